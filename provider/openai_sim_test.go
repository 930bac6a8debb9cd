package provider_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/provider"
)

// simUpstream serves a simulator over a loopback socket, closed with the test.
func simUpstream(t *testing.T, cfg gatewaytest.SimConfig) (*gatewaytest.Server, *gatewaytest.Sim) {
	t.Helper()
	sim := gatewaytest.MustNewSim("upstream", cfg)
	srv := gatewaytest.NewServer(sim)
	t.Cleanup(srv.Close)
	return srv, sim
}

func TestOpenAI_OfficialSDKOverSim(t *testing.T) {
	srv, sim := simUpstream(t, gatewaytest.SimConfig{Models: []string{"gpt-4.1-2025-04-14", "text-embedding-3-small"}})
	p := newTestOpenAI(t, provider.OpenAIConfig{
		BaseURL:  srv.BaseURL(),
		APIKey:   upstreamKey,
		Models:   []string{"gpt-4.1", "text-embedding-3-small"},
		ModelMap: map[string]string{"gpt-4.1": "gpt-4.1-2025-04-14"}, // the sim answers 404 to "gpt-4.1"
	})
	var cc callCapture
	client := sdkClient(gateway.Chain(p, cc.Middleware))
	params := openai.ChatCompletionNewParams{
		Model:    "gpt-4.1",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")},
	}

	res, err := client.Chat.Completions.New(t.Context(), params)
	require.NoError(t, err)
	require.Len(t, res.Choices, 1)
	assert.Equal(t, sim.ReplyText(0), res.Choices[0].Message.Content)

	stream := client.Chat.Completions.NewStreaming(t.Context(), params)
	var acc openai.ChatCompletionAccumulator
	for i := 0; i < maxChunks && stream.Next(); i++ {
		chunk := stream.Current()
		acc.AddChunk(chunk)
		assert.NotEmpty(t, chunk.Choices, "no usage-only chunk reaches an SDK that did not ask for one")
	}
	require.NoError(t, stream.Err())
	require.NoError(t, stream.Close())
	require.Len(t, acc.Choices, 1)
	assert.Equal(t, sim.ReplyText(0), acc.Choices[0].Message.Content)
	u, ok := cc.Call().Usage()
	require.True(t, ok)
	assert.False(t, u.Estimated, "the forced usage chunk reported the stream's usage")
	assert.Equal(t, sim.ReplyTokens(0), u.CompletionTokens)
	atts := cc.Call().Attempts()
	require.Len(t, atts, 1, "one attempt boundary, in front of the provider")
	assert.Equal(t, "openai", atts[0].Target)
	assert.Equal(t, http.StatusOK, atts[0].Status)

	emb, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{
		Model: "text-embedding-3-small",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")},
	})
	require.NoError(t, err)
	require.Len(t, emb.Data, 1)
	assert.NotEmpty(t, emb.Data[0].Embedding)

	reqs := srv.Requests()
	require.Len(t, reqs, 3)
	for i, r := range reqs {
		assert.Equal(t, "Bearer "+upstreamKey, r.Header.Get("Authorization"), "request %d", i)
		assert.NotContains(t, strings.Join(r.Header.Values("Authorization"), ","), "caller-virtual-key")
	}
	assert.Equal(t, "/v1/chat/completions", reqs[0].Path)
	var streamed struct {
		Model         string `json:"model"`
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	require.NoError(t, json.Unmarshal(reqs[1].Body, &streamed))
	assert.Equal(t, "gpt-4.1-2025-04-14", streamed.Model)
	assert.True(t, streamed.StreamOptions.IncludeUsage)
	assert.Equal(t, "/v1/embeddings", reqs[2].Path)
}

func TestOpenAI_SimUpstreamErrorsPassThrough(t *testing.T) {
	srv, sim := simUpstream(t, gatewaytest.SimConfig{})
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: srv.BaseURL(), APIKey: upstreamKey})
	sim.SetFaults(gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{503}})
	resp := oaiPost(t, gateway.NewClient(p), "/v1/chat/completions", chatBody)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "an upstream status is returned as it is")
	assert.Contains(t, readAll(t, resp.Body), `"error"`)
}

func TestOpenAI_SocketResetIsClassifiableAndHidesKey(t *testing.T) {
	srv, _ := simUpstream(t, gatewaytest.SimConfig{})
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: srv.BaseURL(), APIKey: upstreamKey})
	srv.SetFaults(gatewaytest.SocketFaults{ResetRate: 1})
	req := withCall(t, newRequest(t, context.Background(), "/v1/chat/completions", strings.NewReader(chatBody)))
	resp, err := p.RoundTrip(req)
	assert.Nil(t, resp)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), upstreamKey)
	// net/http reports a reset before any response as ECONNRESET or, on a
	// reused connection, as EOF; either way a plain, retryable error.
	var ge *gateway.Error
	assert.False(t, errors.As(err, &ge), "a transport failure is not a gateway refusal: %v", err)
	if !isReset(err) {
		assert.ErrorIs(t, err, io.EOF)
	}
}

func TestOpenAI_StreamResetAfterHeadersIsAReadError(t *testing.T) {
	srv, _ := simUpstream(t, gatewaytest.SimConfig{})
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: srv.BaseURL(), APIKey: upstreamKey})
	srv.SetFaults(gatewaytest.SocketFaults{ResetAfterHeaders: 1})
	resp := oaiPost(t, gateway.NewClient(p), "/v1/chat/completions", streamBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.Error(t, err, "a cut stream ends in a read error")
	assert.NotContains(t, string(b), "[DONE]", "never a fake [DONE]")
	assert.NotContains(t, err.Error(), upstreamKey)
}

func TestOpenAI_StalledUpstreamEndsWithCallerContext(t *testing.T) {
	srv, _ := simUpstream(t, gatewaytest.SimConfig{})
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: srv.BaseURL()})
	srv.SetFaults(gatewaytest.SocketFaults{StallRate: 1})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://gateway.invalid/v1/chat/completions", strings.NewReader(chatBody))
		resp, err := gateway.NewClient(p).Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	require.Eventually(t, func() bool { return srv.Count() > 0 }, guard, time.Millisecond, "the request never reached the upstream")
	cancel()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(guard):
		t.Fatal("a stalled call did not end with its context")
	}
}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
