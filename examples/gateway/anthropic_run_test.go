package main

import (
	"context"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/gatewaytest"
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

	reqs := modelCalls(up.Server)
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
