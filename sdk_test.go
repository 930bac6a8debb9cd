package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// callRecorder is a middleware that keeps the Calls it sees.
type callRecorder struct {
	mu    sync.Mutex
	calls []*gateway.Call
}

func (r *callRecorder) middleware(next http.RoundTripper) http.RoundTripper {
	return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		r.mu.Lock()
		r.calls = append(r.calls, gateway.CallFrom(req.Context()))
		r.mu.Unlock()
		return next.RoundTrip(req)
	})
}

func (r *callRecorder) last(t *testing.T) *gateway.Call {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NotEmpty(t, r.calls)
	return r.calls[len(r.calls)-1]
}

// sdkClients returns openai-go clients for both entry points over the same
// chain: through a gateway server (NewHandler) and in-process (NewClient).
func sdkClients(t *testing.T, rt http.RoundTripper, opts ...gateway.Option) map[string]openai.Client {
	t.Helper()
	srv := httptest.NewServer(gateway.NewHandler(rt, opts...))
	t.Cleanup(srv.Close)
	return map[string]openai.Client{
		"server": openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey("caller-key"), option.WithMaxRetries(0)),
		"client": openai.NewClient(option.WithHTTPClient(gateway.NewClient(rt, opts...)), option.WithBaseURL("http://gateway.invalid/v1"),
			option.WithAPIKey("caller-key"), option.WithMaxRetries(0)),
	}
}

func chatParams(stream bool) openai.ChatCompletionNewParams {
	p := openai.ChatCompletionNewParams{
		Model:     "gpt-4o-mini",
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say something.")},
		MaxTokens: openai.Int(12),
	}
	if stream {
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	}
	return p
}

func TestOpenAISDKChat(t *testing.T) {
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Models: []string{"gpt-4o-mini"}})
	rec := &callRecorder{}
	for mode, client := range sdkClients(t, gateway.Chain(sim, rec.middleware)) {
		t.Run(mode, func(t *testing.T) {
			resp, err := client.Chat.Completions.New(context.Background(), chatParams(false))
			require.NoError(t, err)
			require.Len(t, resp.Choices, 1)
			call := rec.last(t)
			assert.Equal(t, sim.ReplyText(12), resp.Choices[0].Message.Content)
			assert.EqualValues(t, 12, resp.Usage.CompletionTokens)
			assert.EqualValues(t, call.PromptTokens, resp.Usage.PromptTokens)
			u, ok := call.Usage()
			require.True(t, ok)
			assert.Equal(t, gateway.Usage{PromptTokens: call.PromptTokens, CompletionTokens: 12}, u)
		})
	}
}

func TestOpenAISDKStream(t *testing.T) {
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Models: []string{"gpt-4o-mini"}})
	rec := &callRecorder{}
	for mode, client := range sdkClients(t, gateway.Chain(sim, rec.middleware)) {
		for _, includeUsage := range []bool{true, false} {
			t.Run(mode, func(t *testing.T) {
				params := chatParams(includeUsage)
				stream := client.Chat.Completions.NewStreaming(context.Background(), params)
				var acc openai.ChatCompletionAccumulator
				sawUsageChunk := false
				for stream.Next() {
					ch := stream.Current()
					acc.AddChunk(ch)
					if len(ch.Choices) == 0 && ch.Usage.TotalTokens > 0 {
						sawUsageChunk = true
					}
				}
				require.NoError(t, stream.Err())
				require.NoError(t, stream.Close())
				call := rec.last(t)
				assert.Equal(t, sim.ReplyText(12), acc.Choices[0].Message.Content)
				assert.Equal(t, includeUsage, sawUsageChunk, "the usage chunk reaches the caller only when asked for")
				u, ok := call.Usage()
				require.True(t, ok)
				assert.Equal(t, gateway.Usage{PromptTokens: call.PromptTokens, CompletionTokens: 12}, u, "usage is known either way")
				if includeUsage {
					assert.EqualValues(t, 12, acc.Usage.CompletionTokens)
				}
			})
		}
	}
}

func TestOpenAISDKEmbeddingsAndModels(t *testing.T) {
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Models: []string{"gpt-4o-mini", "text-embedding-3-small"}, EmbeddingDims: 4})
	rec := &callRecorder{}
	for mode, client := range sdkClients(t, gateway.Chain(sim, rec.middleware)) {
		t.Run(mode, func(t *testing.T) {
			emb, err := client.Embeddings.New(context.Background(), openai.EmbeddingNewParams{
				Model: "text-embedding-3-small",
				Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}},
			})
			require.NoError(t, err)
			require.Len(t, emb.Data, 2)
			assert.Len(t, emb.Data[0].Embedding, 4)
			u, _ := rec.last(t).Usage()
			assert.EqualValues(t, emb.Usage.PromptTokens, u.PromptTokens)

			page, err := client.Models.List(context.Background())
			require.NoError(t, err)
			var ids []string
			for _, m := range page.Data {
				ids = append(ids, m.ID)
			}
			assert.ElementsMatch(t, []string{"gpt-4o-mini", "text-embedding-3-small"}, ids)
		})
	}
}

// A refusal reaches the SDK as the API error a gateway server would send, in
// both modes, and maps back to its sentinel.
func TestOpenAISDKSeesRefusals(t *testing.T) {
	refuse := gateway.RoundTripperFunc(func(*http.Request) (*http.Response, error) {
		return nil, gateway.ErrNoHealthyProvider.WithMessage("gateway: every target is down")
	})
	for mode, client := range sdkClients(t, refuse) {
		t.Run(mode, func(t *testing.T) {
			_, err := client.Chat.Completions.New(context.Background(), chatParams(false))
			var apiErr *openai.Error
			require.True(t, errors.As(err, &apiErr), "%v", err)
			assert.Equal(t, 503, apiErr.StatusCode)
			assert.Equal(t, "no_healthy_provider", apiErr.Code)
			assert.ErrorIs(t, gateway.ErrorFromResponse(apiErr.Response), gateway.ErrNoHealthyProvider)
			assert.Contains(t, apiErr.Message, "every target is down")
		})
	}
}

// Regression: ErrorFromCode mapped an upstream's own 429
// rate_limit_exceeded (and 503, 401) to a refusal the gateway never made.
// The gateway's own errors are marked; a provider's never are, even one
// that came from another gateway and carries the mark.
func TestOpenAISDKTellsUpstreamErrorsFromTheGateways(t *testing.T) {
	upstream := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		r := jsonReply(req, 429, `{"error":{"message":"Rate limit reached","type":"rate_limit_error","code":"rate_limit_exceeded"}}`)
		r.Header.Set("X-Llmgate-Error", "no_healthy_provider") // an upstream gateway's mark
		return r, nil
	}}
	for mode, client := range sdkClients(t, upstream) {
		t.Run(mode, func(t *testing.T) {
			_, err := client.Chat.Completions.New(context.Background(), chatParams(false))
			var apiErr *openai.Error
			require.True(t, errors.As(err, &apiErr), "%v", err)
			assert.Equal(t, 429, apiErr.StatusCode)
			assert.Equal(t, "rate_limit_exceeded", apiErr.Code)
			assert.Nil(t, gateway.ErrorFromResponse(apiErr.Response), "the provider's error is not the gateway's")
			assert.Empty(t, apiErr.Response.Header.Get("X-Llmgate-Error"))
		})
	}
}

// A stream cut after content reaches the SDK as a stream error, never as a
// clean end (RELIABILITY 9).
func TestOpenAISDKSeesCutStream(t *testing.T) {
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Faults: gatewaytest.Faults{CutRate: 1, CutAfter: 3}, Seed: 1})
	for mode, client := range sdkClients(t, sim) {
		t.Run(mode, func(t *testing.T) {
			stream := client.Chat.Completions.NewStreaming(context.Background(), chatParams(false))
			n := 0
			for stream.Next() {
				n++
			}
			assert.Error(t, stream.Err())
			assert.Positive(t, n, "content before the cut is delivered")
			_ = stream.Close()
		})
	}
}
