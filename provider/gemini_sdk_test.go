package provider_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/provider"
)

const geminiKey = "AIzaSyFAKE-gemini-key-0123456789abcdef"

// geminiFixture starts a fake Gemini upstream and a provider for it.
func geminiFixture(t *testing.T, cfg gatewaytest.GeminiConfig) (*gatewaytest.GeminiServer, *provider.Gemini) {
	t.Helper()
	cfg.APIKey = geminiKey
	up, err := gatewaytest.NewGeminiServer(cfg)
	require.NoError(t, err)
	t.Cleanup(up.Close)
	p, err := provider.NewGemini(provider.GeminiConfig{BaseURL: up.BaseURL(), APIKey: geminiKey})
	require.NoError(t, err)
	t.Cleanup(p.CloseIdleConnections)
	return up, p
}

// geminiClients are openai-go over the provider through both entry points:
// a gateway server (NewHandler) and in-process (NewClient). rec, when set,
// sees each Call.
func geminiClients(t *testing.T, p gateway.Provider, rec *[]*gateway.Call) map[string]openai.Client {
	t.Helper()
	var mu sync.Mutex
	rt := gateway.Chain(p, func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			if rec != nil {
				mu.Lock()
				*rec = append(*rec, gateway.CallFrom(req.Context()))
				mu.Unlock()
			}
			return next.RoundTrip(req)
		})
	})
	srv := httptest.NewServer(gateway.NewHandler(rt))
	t.Cleanup(srv.Close)
	return map[string]openai.Client{
		"server": openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey("caller-key"), option.WithMaxRetries(0)),
		"client": sdkClient(rt),
	}
}

func geminiChat(msgs ...openai.ChatCompletionMessageParamUnion) openai.ChatCompletionNewParams {
	if len(msgs) == 0 {
		msgs = []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Say something.")}
	}
	return openai.ChatCompletionNewParams{Model: "gemini-2.5-flash", Messages: msgs,
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}}
}

func TestGemini_OpenAISDKText(t *testing.T) {
	up, p := geminiFixture(t, gatewaytest.GeminiConfig{Reply: gatewaytest.GeminiReply{
		Text: "Hello from the fake Gemini", Thought: "Thinking it over.",
		Usage: gatewaytest.GeminiUsage{PromptTokens: 40, CandidatesTokens: 5, CachedTokens: 16, ThoughtsTokens: 7}}})
	var calls []*gateway.Call
	want := gateway.Usage{PromptTokens: 40, CompletionTokens: 12, CachedTokens: 16, ReasoningTokens: 7}
	for mode, client := range geminiClients(t, p, &calls) {
		t.Run(mode+"/whole", func(t *testing.T) {
			res, err := client.Chat.Completions.New(context.Background(), geminiChat())
			require.NoError(t, err)
			require.Len(t, res.Choices, 1)
			assert.Equal(t, "Hello from the fake Gemini", res.Choices[0].Message.Content)
			var reasoning string
			require.NoError(t, json.Unmarshal([]byte(res.Choices[0].Message.JSON.ExtraFields["reasoning_content"].Raw()), &reasoning))
			assert.Equal(t, "Thinking it over.", reasoning, "thoughts reach the caller as reasoning_content")
			assert.Equal(t, "stop", res.Choices[0].FinishReason)
			assert.EqualValues(t, 40, res.Usage.PromptTokens)
			assert.EqualValues(t, 12, res.Usage.CompletionTokens, "thoughts are completion tokens in OpenAI's terms")
			assert.EqualValues(t, 16, res.Usage.PromptTokensDetails.CachedTokens)
			assert.EqualValues(t, 7, res.Usage.CompletionTokensDetails.ReasoningTokens)
			u, ok := calls[len(calls)-1].Usage()
			require.True(t, ok)
			assert.Equal(t, want, u)
		})
		t.Run(mode+"/stream", func(t *testing.T) {
			stream := client.Chat.Completions.NewStreaming(context.Background(), geminiChat())
			defer stream.Close()
			var acc openai.ChatCompletionAccumulator
			var usage openai.CompletionUsage
			for i := 0; i < maxChunks && stream.Next(); i++ {
				ch := stream.Current()
				acc.AddChunk(ch)
				if ch.JSON.Usage.Valid() && ch.Usage.TotalTokens > 0 {
					usage = ch.Usage
				}
			}
			require.NoError(t, stream.Err())
			require.Len(t, acc.Choices, 1)
			assert.Equal(t, "Hello from the fake Gemini", acc.Choices[0].Message.Content)
			assert.Equal(t, "stop", acc.Choices[0].FinishReason)
			assert.EqualValues(t, 12, usage.CompletionTokens)
			assert.EqualValues(t, 16, usage.PromptTokensDetails.CachedTokens)
			u, ok := calls[len(calls)-1].Usage()
			require.True(t, ok)
			assert.Equal(t, want, u)
		})
	}
	for _, r := range up.Requests() {
		assert.Equal(t, geminiKey, r.Header.Get("X-Goog-Api-Key"))
		assert.NotContains(t, r.Query, geminiKey, "the key never goes in a URL")
		assert.Empty(t, r.Header.Get("Authorization"), "the caller's key stays behind")
	}
	reqs := up.Requests()
	require.Len(t, reqs, 4)
	var sent struct {
		SystemInstruction struct {
			Parts []struct{ Text string } `json:"parts"`
		} `json:"systemInstruction"`
		Contents []struct {
			Role string `json:"role"`
		} `json:"contents"`
	}
	require.NoError(t, json.Unmarshal(reqs[0].Body, &sent))
	assert.Equal(t, "Be brief.", sent.SystemInstruction.Parts[0].Text)
	require.Len(t, sent.Contents, 1)
	assert.Equal(t, "user", sent.Contents[0].Role)
}

func TestGemini_OpenAISDKToolCalls(t *testing.T) {
	up, p := geminiFixture(t, gatewaytest.GeminiConfig{Reply: gatewaytest.GeminiReply{
		FunctionCalls: []gatewaytest.GeminiFunctionCall{
			{Name: "get_weather", Args: map[string]any{"city": "Paris"}, ThoughtSignature: "c2lnLW9uZQ=="},
			{Name: "get_time", Args: map[string]any{"tz": "CET"}},
		}}})
	tools := []openai.ChatCompletionToolUnionParam{
		openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{Name: "get_weather",
			Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}}),
		openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{Name: "get_time"}),
	}
	for mode, client := range geminiClients(t, p, nil) {
		t.Run(mode, func(t *testing.T) {
			up.Reset()
			params := geminiChat(openai.UserMessage("Weather and time in Paris?"))
			params.Tools = tools
			params.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: param.NewOpt("required")}
			res, err := client.Chat.Completions.New(context.Background(), params)
			require.NoError(t, err)
			msg := res.Choices[0].Message
			assert.Equal(t, "tool_calls", res.Choices[0].FinishReason)
			require.Len(t, msg.ToolCalls, 2)
			assert.Equal(t, "get_weather", msg.ToolCalls[0].Function.Name)
			assert.JSONEq(t, `{"city":"Paris"}`, msg.ToolCalls[0].Function.Arguments)
			assert.NotEqual(t, msg.ToolCalls[0].ID, msg.ToolCalls[1].ID)

			// The same calls, streamed: tool-call deltas with their index.
			stream := client.Chat.Completions.NewStreaming(context.Background(), params)
			var acc openai.ChatCompletionAccumulator
			for i := 0; i < maxChunks && stream.Next(); i++ {
				acc.AddChunk(stream.Current())
			}
			require.NoError(t, stream.Err())
			stream.Close()
			require.Len(t, acc.Choices[0].Message.ToolCalls, 2)
			assert.Equal(t, "get_time", acc.Choices[0].Message.ToolCalls[1].Function.Name)
			assert.Equal(t, "tool_calls", acc.Choices[0].FinishReason)

			// The next turn: the results go back, named after their calls,
			// the first call signed as Gemini signed it.
			up.SetReply(gatewaytest.GeminiReply{Text: "Sunny, 15:00."})
			next := geminiChat(openai.UserMessage("Weather and time in Paris?"), msg.ToParam(),
				openai.ToolMessage(`{"temp":21}`, msg.ToolCalls[0].ID), openai.ToolMessage("15:00", msg.ToolCalls[1].ID))
			next.Tools = tools
			res2, err := client.Chat.Completions.New(context.Background(), next)
			require.NoError(t, err)
			assert.Equal(t, "Sunny, 15:00.", res2.Choices[0].Message.Content)
			up.SetReply(gatewaytest.GeminiReply{FunctionCalls: []gatewaytest.GeminiFunctionCall{
				{Name: "get_weather", Args: map[string]any{"city": "Paris"}, ThoughtSignature: "c2lnLW9uZQ=="},
				{Name: "get_time", Args: map[string]any{"tz": "CET"}}}})

			reqs := up.Requests()
			require.Len(t, reqs, 3)
			var first struct {
				Tools      []map[string]any `json:"tools"`
				ToolConfig map[string]any   `json:"toolConfig"`
			}
			require.NoError(t, json.Unmarshal(reqs[0].Body, &first))
			assert.Equal(t, map[string]any{"functionCallingConfig": map[string]any{"mode": "ANY"}}, first.ToolConfig)
			var turn struct {
				Contents []struct {
					Role  string           `json:"role"`
					Parts []map[string]any `json:"parts"`
				} `json:"contents"`
			}
			require.NoError(t, json.Unmarshal(reqs[2].Body, &turn))
			require.Len(t, turn.Contents, 3, "user, model, and one user content holding both results")
			model, results := turn.Contents[1], turn.Contents[2]
			assert.Equal(t, "model", model.Role)
			require.Len(t, model.Parts, 2)
			assert.Equal(t, "c2lnLW9uZQ==", model.Parts[0]["thoughtSignature"], "the signature goes back unchanged")
			assert.Nil(t, model.Parts[1]["thoughtSignature"])
			assert.Equal(t, map[string]any{"city": "Paris"}, model.Parts[0]["functionCall"].(map[string]any)["args"])
			require.Len(t, results.Parts, 2)
			assert.Equal(t, "user", results.Role)
			fr0 := results.Parts[0]["functionResponse"].(map[string]any)
			fr1 := results.Parts[1]["functionResponse"].(map[string]any)
			assert.Equal(t, "get_weather", fr0["name"])
			assert.Equal(t, map[string]any{"temp": float64(21)}, fr0["response"])
			assert.Equal(t, "get_time", fr1["name"])
			assert.Equal(t, map[string]any{"content": "15:00"}, fr1["response"])
			assert.Equal(t, model.Parts[0]["functionCall"].(map[string]any)["id"], fr0["id"], "ids match call and result")
		})
	}
}

func TestGemini_OpenAISDKEmbeddings(t *testing.T) {
	up, p := geminiFixture(t, gatewaytest.GeminiConfig{EmbeddingDims: 4})
	var calls []*gateway.Call
	for mode, client := range geminiClients(t, p, &calls) {
		t.Run(mode, func(t *testing.T) {
			up.Reset()
			one, err := client.Embeddings.New(context.Background(), openai.EmbeddingNewParams{Model: "gemini-embedding-001",
				Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")}})
			require.NoError(t, err)
			require.Len(t, one.Data, 1)
			assert.Len(t, one.Data[0].Embedding, 4)
			u, _ := calls[len(calls)-1].Usage()
			assert.True(t, u.Estimated, "Gemini reports no embedding usage: estimated, never zero")
			assert.Positive(t, u.PromptTokens)

			many, err := client.Embeddings.New(context.Background(), openai.EmbeddingNewParams{Model: "gemini-embedding-001",
				Input:      openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"hello", "world", "hello"}},
				Dimensions: openai.Int(3)})
			require.NoError(t, err)
			require.Len(t, many.Data, 3)
			assert.Len(t, many.Data[1].Embedding, 3)
			assert.Equal(t, many.Data[0].Embedding, many.Data[2].Embedding)
			assert.NotEqual(t, many.Data[0].Embedding, many.Data[1].Embedding)
			assert.EqualValues(t, 2, many.Data[2].Index)

			reqs := up.Requests()
			require.Len(t, reqs, 2)
			assert.Equal(t, "/v1beta/models/gemini-embedding-001:embedContent", reqs[0].Path)
			assert.Equal(t, "/v1beta/models/gemini-embedding-001:batchEmbedContents", reqs[1].Path)
		})
	}
}

// A stream whose caller asked no usage gets no usage-only chunk, and the
// Call still has Gemini's usage: the adapter always reports it, the entry
// point removes what was not asked for.
func TestGemini_StreamUsageNotAskedIsStillMetered(t *testing.T) {
	_, p := geminiFixture(t, gatewaytest.GeminiConfig{Reply: gatewaytest.GeminiReply{Text: "a b c",
		Usage: gatewaytest.GeminiUsage{PromptTokens: 11, CandidatesTokens: 3}}})
	var calls []*gateway.Call
	for mode, client := range geminiClients(t, p, &calls) {
		params := geminiChat()
		params.StreamOptions = openai.ChatCompletionStreamOptionsParam{}
		stream := client.Chat.Completions.NewStreaming(context.Background(), params)
		for i := 0; i < maxChunks && stream.Next(); i++ {
			assert.NotEmpty(t, stream.Current().Choices, "%s: no usage-only chunk the caller did not ask for", mode)
		}
		require.NoError(t, stream.Err())
		stream.Close()
		u, ok := calls[len(calls)-1].Usage()
		require.True(t, ok)
		assert.Equal(t, gateway.Usage{PromptTokens: 11, CompletionTokens: 3}, u, mode)
	}
}
