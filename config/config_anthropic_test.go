package config

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/billing"
	"github.com/llmgate/gateway/limiter"
	"github.com/llmgate/gateway/provider"
)

func TestConfigAnthropicErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"providers:\n  - {name: c, type: anthropic, anthropic: {default_max_tokens: 0}}\n",
			"providers[0].anthropic.default_max_tokens: must be positive"},
		{"providers:\n  - {name: c, type: anthropic, sim: {seed: 1}}\n", "providers[0].sim: is not used by a provider of type anthropic"},
		{"providers:\n  - {name: c, type: sim, anthropic: {version: x}}\n", "providers[0].anthropic: only a provider of type anthropic"},
		{"providers:\n  - {name: c, type: anthropic, base_url: \"ftp://x\"}\n", "providers[0]: provider: c: BaseURL must be an absolute http or https URL"},
	} {
		err := checkConfig(tc.yaml, env{})
		require.Error(t, err, tc.yaml)
		assert.True(t, strings.Contains(err.Error(), tc.want), "%s\ngot: %v", tc.yaml, err)
	}
	assert.NoError(t, checkConfig("providers:\n  - {name: c, type: anthropic, api_key: k}\n", env{}), "base_url defaults to Anthropic's API")
}

// The multi-vendor example loads and builds with its variables set.
func TestMultivendorConfigBuilds(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-test-openai-0000")
	t.Setenv("ANTHROPIC_API_KEY", "sk-ant-test-0000")
	t.Setenv("GEMINI_API_KEY", "AIza-test-0000")
	cfg, err := Load("../examples/gateway/gateway.multivendor.yaml", os.LookupEnv)
	require.NoError(t, err)
	a, err := Build(cfg, Options{})
	require.NoError(t, err)
	defer a.Close()
	assert.Equal(t, []string{"openai", "anthropic", "gemini"}, a.router.Targets())
	assert.Equal(t, []string{"chat-default"}, a.router.Models())
}

// Regression: an anthropic provider sends its default_max_tokens for a chat
// call that sets none, while the limits and the budgets reserved their own
// default (4096) for it: configured higher, concurrent calls could overrun
// a token limit or a strict budget. Left out, what they reserve follows the
// largest an anthropic provider sends; written lower, it is an error.
func TestAnthropicDefaultMaxTokensIsWhatTheLimitsReserve(t *testing.T) {
	const providers = `
providers:
  - {name: claude, type: anthropic, base_url: "http://127.0.0.1:1", api_key: k, anthropic: {default_max_tokens: 8192}}
  - {name: haiku, type: anthropic, base_url: "http://127.0.0.1:1", api_key: k, anthropic: {default_max_tokens: 6000}}
limits:
  rules:
    - {name: tpm, dimensions: [model], unit: tokens, limit: 100000, per: minute}
`
	cfg, err := Parse("t.yaml", []byte(providers), env{}.lookup)
	require.NoError(t, err)
	a, err := Build(cfg, Options{})
	require.NoError(t, err)
	a.Close()
	assert.EqualValues(t, 8192, cfg.Limits.Rate.DefaultMaxTokens)
	assert.EqualValues(t, 8192, cfg.Billing.Budgets.DefaultMaxTokens)
	var banner strings.Builder
	printLimits(&banner, a.limiter, &cfg.Limits.Rate)
	assert.Contains(t, banner.String(), "reserves its prompt + 8192 tokens")

	err = checkConfig(providers+"  default_max_tokens: 4096\nbilling:\n  budgets: {default_max_tokens: 2048}\n", env{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "t.yaml:8: limits.default_max_tokens: 4096 is less than the 8192 that providers[0] (claude) sends")
	assert.Contains(t, err.Error(), "t.yaml:10: billing.budgets.default_max_tokens: 2048 is less than the 8192 that providers[0] (claude) sends")

	// Under the expected policy a budget holds its expected output, not
	// default_max_tokens: a lower one is no mistake there.
	require.NoError(t, checkConfig(providers+"billing:\n  budgets: {policy: expected, default_max_tokens: 2048}\n", env{}))
}

// The library's defaults agree: what provider.Anthropic sends a chat call
// without max_tokens is what the limiter and a strict budget reserve for
// it, so a library user who configures none of them under-reserves nothing.
func TestAnthropicDefaultMaxTokensAgreesWithTheReservers(t *testing.T) {
	assert.EqualValues(t, provider.DefaultAnthropicMaxTokens, limiter.DefaultMaxTokens)
	assert.EqualValues(t, provider.DefaultAnthropicMaxTokens, billing.DefaultMaxTokens)
}
