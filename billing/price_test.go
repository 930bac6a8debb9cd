package billing_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/billing"
)

// Every embedded row is priced, and names the date it was checked.
func TestDefaultPricesValid(t *testing.T) {
	tbl := billing.DefaultPrices()
	require.GreaterOrEqual(t, tbl.Len(), 20)
	for _, m := range []string{"gpt-4o", "gpt-4o-mini", "gpt-5", "claude-sonnet-4-5", "claude-haiku-4-5",
		"gemini-2.5-pro", "gemini-2.5-flash", "deepseek-chat", "deepseek-reasoner"} {
		p, ok := tbl.Lookup("", m)
		require.True(t, ok, m)
		assert.Positive(t, p.Input, m)
		assert.Positive(t, p.Output, m)
		_, err := time.Parse(time.DateOnly, p.Checked)
		assert.NoError(t, err, "%s: checked date", m)
	}
	p, _ := tbl.Lookup("", "claude-sonnet-4-5")
	assert.Equal(t, billing.PerM(3.75), p.CacheWrite, "Anthropic 5-minute write is 1.25x input")
	assert.Equal(t, billing.PerM(6), p.CacheWrite1h, "Anthropic 1-hour write is 2x input")
}

func TestPriceLookup(t *testing.T) {
	tbl, err := billing.NewPriceTable(map[string]billing.Price{
		"gpt-4o":       {Input: 1, Output: 1},
		"azure/gpt-4o": {Input: 2, Output: 2},
	}, map[string]map[string]billing.Price{"eu": {"gpt-4o": {Input: 3, Output: 3}}})
	require.NoError(t, err)
	for _, tc := range []struct {
		target, model string
		input         int64
		ok            bool
	}{
		{"", "gpt-4o", 1, true},
		{"eu", "gpt-4o", 3, true},          // the target's override
		{"azure", "gpt-4o", 2, true},       // a "target/model" row
		{"other", "gpt-4o", 1, true},       // no override: the model's row
		{"", "gpt-4o-2024-08-06", 1, true}, // a dated snapshot
		{"eu", "gpt-4o-20240806", 3, true}, // a dated snapshot, overridden
		{"", "gpt-4o-mini", 0, false},      // no fuzzy prefix match
		{"", "unknown", 0, false},          // unknown: no price, not zero
		{"", "", 0, false},
	} {
		p, ok := tbl.Lookup(tc.target, tc.model)
		assert.Equal(t, tc.ok, ok, "%s/%s", tc.target, tc.model)
		assert.Equal(t, tc.input, p.Input, "%s/%s", tc.target, tc.model)
	}
	_, err = billing.NewPriceTable(map[string]billing.Price{"bad": {Input: -1}, "": {}}, nil)
	assert.ErrorContains(t, err, "negative")
	assert.ErrorContains(t, err, "no model name")
}

func TestLoadLiteLLM(t *testing.T) {
	tbl, err := billing.LoadLiteLLM("testdata/litellm_prices.json")
	require.NoError(t, err)
	assert.Equal(t, 4, tbl.Len(), "sample_spec and the image row are skipped")
	p, ok := tbl.Lookup("", "claude-test")
	require.True(t, ok)
	assert.Equal(t, billing.Price{Input: billing.PerM(3), Output: billing.PerM(15), CacheRead: billing.PerM(0.3),
		CacheWrite: billing.PerM(3.75), CacheWrite1h: billing.PerM(6)}, p)
	p, _ = tbl.Lookup("", "tiny-test")
	assert.Equal(t, int64(75_000_000), p.Input, "parsed exactly, not through a float")
	p, _ = tbl.Lookup("azure", "gpt-test")
	assert.Equal(t, billing.PerM(2.75), p.Input)
	same, err := billing.LoadPrices("testdata/litellm_prices.json")
	require.NoError(t, err)
	assert.Equal(t, tbl, same, "LoadPrices detects the format")
}

func TestLoadGenAIPrices(t *testing.T) {
	tbl, err := billing.LoadGenAIPrices("testdata/genai_prices.json")
	require.NoError(t, err)
	for _, name := range []string{"acme-large", "acme/acme-large", "acme-large-2026"} {
		p, ok := tbl.Lookup("", name)
		require.True(t, ok, name)
		assert.Equal(t, billing.Price{Input: billing.PerM(3), Output: billing.PerM(15), CacheRead: billing.PerM(0.3), CacheWrite: billing.PerM(3.75)}, p, name)
	}
	p, _ := tbl.Lookup("", "acme-tiered")
	assert.Equal(t, billing.PerM(1.25), p.Input, "a tiered price is read at its base")
	p, _ = tbl.Lookup("", "acme-repriced")
	assert.Equal(t, billing.PerM(4), p.Input, "the latest dated price; a time-of-day one is skipped")
	_, ok := tbl.Lookup("", "acme-audio")
	assert.False(t, ok, "no text price")
	same, err := billing.LoadPrices("testdata/genai_prices.json")
	require.NoError(t, err)
	assert.Equal(t, tbl, same)
}

func TestLoadPricesErrors(t *testing.T) {
	_, err := billing.LoadPrices("testdata/missing.json")
	assert.Error(t, err)
	merged := billing.DefaultPrices().Merge(must(billing.LoadLiteLLM("testdata/litellm_prices.json")))
	_, ok := merged.Lookup("", "gpt-test")
	assert.True(t, ok)
	_, ok = merged.Lookup("", "gpt-4o")
	assert.True(t, ok)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
