package provider_test

import (
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/provider"
)

// The Responses API passes through provider.OpenAI to an OpenAI-compatible
// upstream as the caller wrote it (renamed by the ModelMap), its answer and
// events unchanged, and its usage read by the entry point.
func TestOpenAI_ResponsesPassThrough(t *testing.T) {
	srv, sim := simUpstream(t, gatewaytest.SimConfig{Models: []string{"gpt-4.1-2025-04-14"}})
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: srv.BaseURL(), APIKey: upstreamKey,
		ModelMap: map[string]string{"gpt-4.1": "gpt-4.1-2025-04-14"}})
	var cc callCapture
	client := sdkClient(gateway.Chain(p, cc.Middleware))
	params := responses.ResponseNewParams{Model: "gpt-4.1", MaxOutputTokens: openai.Int(5),
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Say hello")}}

	r, err := client.Responses.New(t.Context(), params)
	require.NoError(t, err)
	assert.Equal(t, sim.ReplyText(5), r.OutputText())
	assert.Equal(t, "incomplete", string(r.Status), "max_output_tokens cut it")
	u, ok := cc.Call().Usage()
	require.True(t, ok)
	assert.Equal(t, gateway.Usage{PromptTokens: cc.Call().PromptTokens, CompletionTokens: 5}, u)

	stream := client.Responses.NewStreaming(t.Context(), params)
	var text strings.Builder
	events := 0
	for ; events < maxChunks && stream.Next(); events++ {
		if ev := stream.Current(); ev.Type == "response.output_text.delta" {
			text.WriteString(ev.Delta)
		}
	}
	require.NoError(t, stream.Err())
	require.NoError(t, stream.Close())
	assert.Equal(t, sim.ReplyText(5), text.String())
	assert.Equal(t, 3+5+3+1, events, "every event passes, response.completed included")
	u, _ = cc.Call().Usage()
	assert.False(t, u.Estimated)
	assert.Equal(t, 5, u.CompletionTokens)

	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	for _, r := range reqs {
		assert.Equal(t, "/v1/responses", r.Path)
		assert.Equal(t, "Bearer "+upstreamKey, r.Header.Get("Authorization"))
		assert.Contains(t, string(r.Body), `"model":"gpt-4.1-2025-04-14"`)
		assert.NotContains(t, string(r.Body), "stream_options")
	}
}
