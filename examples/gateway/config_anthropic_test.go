package main

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/billing"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/limiter"
	"github.com/llmgate/gateway/provider"
)

// An anthropic-type provider from the config, its key from the
// environment: the OpenAI SDK's chat calls and the Anthropic SDK's
// Messages calls both reach the fake upstream with the configured key, one
// routed with fallback from a failing sim.
func TestRunAnthropicUpstream(t *testing.T) {
	const upstreamKey, callerKey = "sk-ant-configured-key-0123456789", "sk-caller-virtual-key"
	up, err := gatewaytest.NewAnthropicServer(gatewaytest.AnthropicConfig{APIKey: upstreamKey, Reply: "Hi from Claude"})
	require.NoError(t, err)
	t.Cleanup(up.Close)
	t.Setenv("TEST_ANTHROPIC_URL", up.BaseURL())
	t.Setenv("TEST_ANTHROPIC_KEY", upstreamKey)
	cfg := writeFile(t, "gateway.yaml", `
listen: 127.0.0.1:0
providers:
  - name: broken
    type: sim
    sim: {seed: 1, faults: {error_rate: 1, error_statuses: [503]}}
  - name: claude
    type: anthropic
    base_url: ${TEST_ANTHROPIC_URL}
    api_key: ${TEST_ANTHROPIC_KEY}
    anthropic: {beta: [prompt-caching-2024-07-31], default_max_tokens: 512}
router:
  targets:
    - {provider: broken, tier: 0}
    - {provider: claude, tier: 1, model_map: {gpt-4o-mini: claude-sonnet-4-5}}
`)
	g := startGateway(t, "-config", cfg)
	ctx := context.Background()

	client := sdk(t, g.base, callerKey)
	c, err := client.Chat.Completions.New(ctx, chatParams)
	require.NoError(t, err)
	assert.Equal(t, "Hi from Claude", c.Choices[0].Message.Content)

	ac := anthropic.NewClient(aoption.WithBaseURL(g.base), aoption.WithAPIKey(callerKey), aoption.WithMaxRetries(0))
	m, err := ac.Messages.New(ctx, anthropic.MessageNewParams{Model: "gpt-4o-mini", MaxTokens: 16,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
	require.NoError(t, err)
	assert.Equal(t, "Hi from Claude", m.Content[0].Text)

	reqs := up.Requests()
	require.Len(t, reqs, 2)
	for _, r := range reqs {
		assert.Equal(t, upstreamKey, r.Header.Get("X-Api-Key"))
		assert.Equal(t, "prompt-caching-2024-07-31", r.Header.Get("Anthropic-Beta"))
		assert.NotContains(t, string(r.Body), callerKey)
		assert.Contains(t, string(r.Body), `"model":"claude-sonnet-4-5"`)
	}
	assert.Contains(t, string(reqs[0].Body), `"max_tokens":512`, "the configured default for a chat call")
	assert.NotContains(t, g.stdout.String()+g.stderr.String(), upstreamKey)
}

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

// The embedded default answers the Anthropic SDK too, with the demo key:
// its sims translate, and the banner says how to try it.
func TestRunEmbeddedDefaultServesMessages(t *testing.T) {
	g := startGateway(t, "-addr", "127.0.0.1:0")
	assert.Contains(t, g.stdout.String(), "curl -s "+g.base+"/v1/messages -H 'Authorization: Bearer "+g.key+"'")
	// The SDK sends its key as x-api-key, which the gateway's auth reads too.
	ac := anthropic.NewClient(aoption.WithBaseURL(g.base), aoption.WithAPIKey(g.key), aoption.WithMaxRetries(0))
	params := anthropic.MessageNewParams{Model: "gpt-4o-mini", MaxTokens: 16,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}
	m, err := ac.Messages.New(context.Background(), params)
	require.NoError(t, err)
	assert.Equal(t, "text", m.Content[0].Type)
	assert.NotEmpty(t, m.Content[0].Text)
	assert.Positive(t, m.Usage.OutputTokens)

	s := ac.Messages.NewStreaming(context.Background(), params)
	var acc anthropic.Message
	for i := 0; i < 1000 && s.Next(); i++ {
		require.NoError(t, acc.Accumulate(s.Current()))
	}
	require.NoError(t, s.Err())
	require.NoError(t, s.Close())
	assert.True(t, strings.HasPrefix(acc.Content[0].Text, "Hello! This is sim-"), acc.Content[0].Text)

	// A wrong key is refused in Anthropic's shape, which the SDK reads.
	bad := anthropic.NewClient(aoption.WithBaseURL(g.base), aoption.WithAPIKey("sk-llmgate-wrong"), aoption.WithMaxRetries(0))
	_, err = bad.Messages.New(context.Background(), params)
	var apiErr *anthropic.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 401, apiErr.StatusCode)
	assert.Contains(t, apiErr.Error(), "authentication_error")
	assert.NotEmpty(t, acc.StopReason)
}

// The multi-vendor example loads and builds with its variables set.
func TestMultivendorConfigBuilds(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-test-openai-0000")
	t.Setenv("ANTHROPIC_API_KEY", "sk-ant-test-0000")
	t.Setenv("GEMINI_API_KEY", "AIza-test-0000")
	cfg, err := loadConfig("gateway.multivendor.yaml", os.LookupEnv)
	require.NoError(t, err)
	a, err := build(cfg, slog.New(slog.DiscardHandler))
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
	cfg, err := parseConfig("t.yaml", []byte(providers), env{}.lookup)
	require.NoError(t, err)
	a, err := build(cfg, slog.New(slog.DiscardHandler))
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
