package router

import (
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMatchModelPattern(t *testing.T) {
	cases := []struct {
		pattern, name string
		want          bool
	}{
		{"*", "", true},
		{"*", "gpt-4.1", true},
		{"gpt-4*", "gpt-4", true},
		{"gpt-4*", "gpt-4.1-mini", true},
		{"gpt-4*", "gpt-3.5", false},
		{"*-mini", "gpt-4.1-mini", true},
		{"*-mini", "gpt-4.1-mini-2025", false},
		{"claude-*-4*", "claude-sonnet-4.5", true},
		{"claude-*-4*", "claude-sonnet-3.7", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"**", "x", true},
		{"openai/*", "openai/gpt-4o", true},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"", "", true},
		{"", "x", false},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, matchModelPattern(c.pattern, c.name), "%q ~ %q", c.pattern, c.name)
	}
}

func TestModelSetResolve(t *testing.T) {
	s := newModelSet(&Target{
		Provider: okProvider("p"),
		Models:   []string{"gpt-4.1", "gpt-4o*"},
		ModelMap: map[string]string{"gpt-4.1": "prod-gpt41", "gpt-5*": "gpt-5-deploy", "gpt-5-mini*": "mini-deploy", "*": "fallback"},
	})
	cases := []struct{ asked, sent string }{
		{"gpt-4.1", "prod-gpt41"},          // exact rename
		{"gpt-5-mini-2025", "mini-deploy"}, // the longest pattern wins
		{"gpt-5.1", "gpt-5-deploy"},
		{"anything", "fallback"}, // a "*" rename serves every model
	}
	for _, c := range cases {
		sent, ok := s.resolve(c.asked)
		assert.True(t, ok, c.asked)
		assert.Equal(t, c.sent, sent, c.asked)
	}

	plain := newModelSet(&Target{Provider: okProvider("p"), Models: []string{"gpt-4o*", "o3"}})
	for asked, served := range map[string]bool{"gpt-4o-mini": true, "o3": true, "o3-mini": false, "gpt-4.1": false} {
		sent, ok := plain.resolve(asked)
		assert.Equal(t, served, ok, asked)
		if ok {
			assert.Equal(t, asked, sent)
		}
	}
	assert.ElementsMatch(t, []string{"o3"}, plain.listed(nil), "patterns are not listed")

	anyModel := newModelSet(&Target{Provider: okProvider("p")})
	_, ok := anyModel.resolve("whatever")
	assert.True(t, ok, "no models and no lister: any model")
}

func TestParseRateHints(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	cases := []struct {
		name string
		h    http.Header
		want rateHints
	}{
		{"none", h(), rateHints{}},
		{"openai", h("x-ratelimit-remaining-requests", "2", "x-ratelimit-reset-requests", "1s",
			"x-ratelimit-remaining-tokens", "1200", "x-ratelimit-reset-tokens", "6m0s"),
			rateHints{requests: 2, hasReq: true, reqReset: time.Second, tokens: 1200, hasTok: true, tokReset: 6 * time.Minute}},
		{"openai fractional reset", h("x-ratelimit-remaining-tokens", "5", "x-ratelimit-reset-tokens", "20ms"),
			rateHints{tokens: 5, hasTok: true, tokReset: 20 * time.Millisecond}},
		{"reset in seconds", h("x-ratelimit-remaining-requests", "0", "x-ratelimit-reset-requests", "1.5"),
			rateHints{hasReq: true, reqReset: 1500 * time.Millisecond}},
		{"anthropic", h("anthropic-ratelimit-requests-remaining", "3", "anthropic-ratelimit-requests-reset", "2025-01-01T00:00:30Z",
			"anthropic-ratelimit-tokens-remaining", "900", "anthropic-ratelimit-tokens-reset", "2025-01-01T00:01:00Z"),
			rateHints{requests: 3, hasReq: true, reqReset: 30 * time.Second, tokens: 900, hasTok: true, tokReset: time.Minute}},
		{"anthropic input tokens", h("anthropic-ratelimit-input-tokens-remaining", "700", "anthropic-ratelimit-input-tokens-reset", "2025-01-01T00:00:10Z"),
			rateHints{tokens: 700, hasTok: true, tokReset: 10 * time.Second}},
		{"reset in the past", h("anthropic-ratelimit-requests-remaining", "3", "anthropic-ratelimit-requests-reset", "2024-12-31T23:00:00Z"),
			rateHints{requests: 3, hasReq: true}},
		{"garbage", h("x-ratelimit-remaining-requests", "-4", "x-ratelimit-remaining-tokens", "lots", "x-ratelimit-reset-requests", "soon"),
			rateHints{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, parseRateHints(c.h, now))
		})
	}
}

func TestApplyHints(t *testing.T) {
	p := hintPolicy{floor: 1, fallback: time.Second, ceiling: time.Minute}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	var s targetState
	s.applyHints(rateHints{requests: 1, hasReq: true}, now, p)
	assert.Equal(t, uint8(saturated), s.status(now, 0), "at the floor")
	assert.Equal(t, uint8(eligible), s.status(now+int64(time.Second), 0), "until the fallback reset")
	s.applyHints(rateHints{requests: 50, hasReq: true}, now, p)
	assert.Equal(t, uint8(eligible), s.status(now, 0), "a later answer lifts it")
	s.applyHints(rateHints{requests: 0, hasReq: true, reqReset: time.Hour}, now, p)
	assert.Equal(t, uint8(saturated), s.status(now+int64(59*time.Second), 0))
	assert.Equal(t, uint8(eligible), s.status(now+int64(time.Minute), 0), "the ceiling caps a reset")

	var tok targetState
	tok.applyHints(rateHints{tokens: 100, hasTok: true, tokReset: 10 * time.Second}, now, p)
	assert.Equal(t, uint8(eligible), tok.status(now, 100))
	assert.Equal(t, uint8(saturated), tok.status(now, 101))
	assert.Equal(t, uint8(eligible), tok.status(now+int64(10*time.Second), 101))

	var off targetState
	off.applyHints(rateHints{requests: 0, hasReq: true}, now, hintPolicy{off: true})
	assert.Equal(t, uint8(eligible), off.status(now, 0))
}

// The alias table draws each member with exactly its weight's share.
func TestAliasTableIsExact(t *testing.T) {
	for _, weights := range [][]uint64{{1}, {1, 1}, {95, 5}, {1, 2, 3, 4}, {7, 1, 1, 1, 1, 1, 1, 1, 1, 13}, {MaxWeight, 1}} {
		cols := newAliasTable(weights)
		require.Len(t, cols, len(weights))
		var total float64
		for _, w := range weights {
			total += float64(w)
		}
		got := make([]float64, len(weights))
		for _, c := range cols {
			keep := float64(c.keep) / (1 << 32)
			got[c.self] += keep
			got[c.other] += 1 - keep
		}
		for i, w := range weights {
			assert.InDelta(t, float64(w)/total, got[i]/float64(len(cols)), 1e-9, "weights %v member %d", weights, i)
		}
	}
}

func TestStrategyText(t *testing.T) {
	for _, s := range []Strategy{WeightedRoundRobin, WeightedRandom, LeastInFlight, LatencyAware} {
		b, err := s.MarshalText()
		require.NoError(t, err)
		var back Strategy
		require.NoError(t, back.UnmarshalText(b))
		assert.Equal(t, s, back)
	}
	var s Strategy = LatencyAware
	require.NoError(t, s.UnmarshalText(nil))
	assert.Equal(t, WeightedRoundRobin, s)
	assert.Error(t, s.UnmarshalText([]byte("fastest")))
	_, err := Strategy(9).MarshalText()
	assert.Error(t, err)
	assert.Equal(t, "Strategy(9)", Strategy(9).String())
}

func TestEWMA(t *testing.T) {
	var s targetState
	assert.Equal(t, float64(time.Microsecond), s.cost(), "no sample: the least cost")
	s.observe(100*time.Millisecond, false)
	assert.Equal(t, 100*time.Millisecond, time.Duration(math.Float64frombits(s.latEWMA.Load())), "the first sample is taken whole")
	s.observe(200*time.Millisecond, false)
	assert.Equal(t, 120*time.Millisecond, time.Duration(math.Float64frombits(s.latEWMA.Load())))
	s.observe(0, true)
	assert.InDelta(t, 0.2, math.Float64frombits(s.errEWMA.Load()), 1e-9)
}

// Models matched by patterns are remembered up to a bound; names no target
// serves are not remembered at all.
func TestDynamicGroupsAreBounded(t *testing.T) {
	r, err := New("r", []Target{
		{Provider: okProvider("a"), Weight: 1, Models: []string{"gpt-*"}},
		{Provider: okProvider("b"), Weight: 1, Models: []string{"gpt-4.1"}},
	}, Config{})
	require.NoError(t, err)
	s := r.snap.Load()
	assert.Len(t, s.group("gpt-4.1").members, 2)
	for i := range maxDynamicGroups + 100 {
		g := s.group("gpt-" + strconv.Itoa(i))
		require.NotNil(t, g)
		assert.Len(t, g.members, 1)
		assert.Nil(t, s.group("llama-"+strconv.Itoa(i)))
	}
	assert.Len(t, *s.dyn.Load(), maxDynamicGroups)
	assert.Len(t, s.tiers, 2, "groups with the same targets share their tier tables")
}
