package main

import (
	"context"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/gatewaytest"
)

// A gemini provider from a config file, its key from the environment, in
// front of a fake Gemini API, with a sim behind it as the fallback: chat,
// streams and embeddings reach Gemini with its key in the header only, and
// a Gemini that answers 503 moves the call on.
func TestRunGeminiUpstream(t *testing.T) {
	const geminiKey, callerKey = "AIza-configured-gemini-key-000", "sk-caller-virtual-key"
	up, err := gatewaytest.NewGeminiServer(gatewaytest.GeminiConfig{APIKey: geminiKey,
		Reply: gatewaytest.GeminiReply{Text: "Hello from Gemini"}})
	require.NoError(t, err)
	t.Cleanup(up.Close)
	t.Setenv("TEST_GEMINI_URL", up.BaseURL())
	t.Setenv("TEST_GEMINI_KEY", geminiKey)
	cfg := writeFile(t, "gateway.yaml", `
listen: 127.0.0.1:0
providers:
  - name: gemini
    type: gemini
    base_url: ${TEST_GEMINI_URL}
    api_key: ${TEST_GEMINI_KEY}
    models: [gemini-2.5-flash, gemini-embedding-001]
  - {name: backup, type: sim, models: [gpt-4o-mini], sim: {reply: "from the backup", completion_tokens: 3}}
router:
  targets:
    - {provider: gemini, model_map: {gpt-4o-mini: gemini-2.5-flash}}
    - {provider: backup, tier: 1}
`)
	g := startGateway(t, "-config", cfg)
	client := sdk(t, g.base, callerKey)
	ctx := context.Background()

	c, err := client.Chat.Completions.New(ctx, chatParams)
	require.NoError(t, err)
	assert.Equal(t, "Hello from Gemini", c.Choices[0].Message.Content)

	stream := client.Chat.Completions.NewStreaming(ctx, chatParams)
	var text strings.Builder
	for stream.Next() {
		if ch := stream.Current().Choices; len(ch) > 0 {
			text.WriteString(ch[0].Delta.Content)
		}
	}
	require.NoError(t, stream.Err())
	require.NoError(t, stream.Close())
	assert.Equal(t, "Hello from Gemini", text.String())

	e, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "gemini-embedding-001",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}}})
	require.NoError(t, err)
	assert.Len(t, e.Data, 2)

	require.NoError(t, up.SetGeminiFaults(gatewaytest.GeminiFaults{Status: 503}))
	c, err = client.Chat.Completions.New(ctx, chatParams)
	require.NoError(t, err)
	assert.Equal(t, "from the backup", c.Choices[0].Message.Content)

	for _, r := range up.Requests() {
		assert.Equal(t, geminiKey, r.Header.Get("X-Goog-Api-Key"))
		assert.NotContains(t, r.Query, geminiKey)
		for k, v := range r.Header {
			assert.NotContains(t, strings.Join(v, " "), callerKey, "header %s", k)
		}
	}
	require.Equal(t, 0, g.stop())
	logs := g.stderr.String()
	assert.Contains(t, logs, "served_by=gemini served_model=gemini-2.5-flash")
	assert.NotContains(t, logs, geminiKey)
}
