package provider_test

import (
	"encoding/json"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// anthropic-sdk-go against the /v1/messages front door with Gemini behind
// it: text, streams, tool calls and usage go Messages -> chat -> Gemini and
// back, so an Anthropic caller can be routed to a Gemini target too.
func TestGemini_MessagesFrontDoor(t *testing.T) {
	up, p := geminiFixture(t, gatewaytest.GeminiConfig{Reply: gatewaytest.GeminiReply{Text: "Hello from Gemini",
		Usage: gatewaytest.GeminiUsage{PromptTokens: 30, CandidatesTokens: 3, CachedTokens: 10}}})
	calls := observedCalls(make(chan *gateway.Call, 8))
	client := frontDoor(t, p, gateway.WithObserver(calls.observe))
	params := anthropic.MessageNewParams{Model: "gemini-2.5-flash", MaxTokens: 64,
		System:   []anthropic.TextBlockParam{{Text: "Be brief."}},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Say hello"))}}

	msg, err := client.Messages.New(t.Context(), params)
	require.NoError(t, err)
	require.NotEmpty(t, msg.Content)
	assert.Equal(t, "Hello from Gemini", msg.Content[len(msg.Content)-1].Text)
	assert.Equal(t, anthropic.StopReasonEndTurn, msg.StopReason)
	u, ok := calls.next(t).Usage()
	require.True(t, ok)
	assert.Equal(t, gateway.Usage{PromptTokens: 30, CompletionTokens: 3, CachedTokens: 10}, u)

	stream := client.Messages.NewStreaming(t.Context(), params)
	var acc anthropic.Message
	for i := 0; i < maxChunks && stream.Next(); i++ {
		require.NoError(t, acc.Accumulate(stream.Current()))
	}
	require.NoError(t, stream.Err())
	stream.Close()
	assert.Equal(t, "Hello from Gemini", acc.Content[len(acc.Content)-1].Text)
	su, _ := calls.next(t).Usage()
	assert.Equal(t, u, su, "stream and non-stream usage agree")

	var sent struct {
		SystemInstruction struct {
			Parts []struct{ Text string } `json:"parts"`
		} `json:"systemInstruction"`
		GenerationConfig struct {
			MaxOutputTokens int `json:"maxOutputTokens"`
		} `json:"generationConfig"`
	}
	require.NoError(t, json.Unmarshal(up.Requests()[0].Body, &sent))
	assert.Equal(t, "Be brief.", sent.SystemInstruction.Parts[0].Text)
	assert.Equal(t, 64, sent.GenerationConfig.MaxOutputTokens)

	up.SetReply(gatewaytest.GeminiReply{FunctionCalls: []gatewaytest.GeminiFunctionCall{{Name: "get_weather", Args: map[string]any{"city": "Paris"}}}})
	tp := params
	tp.Tools = []anthropic.ToolUnionParam{weatherParam}
	msg, err = client.Messages.New(t.Context(), tp)
	require.NoError(t, err)
	use := msg.Content[len(msg.Content)-1]
	assert.Equal(t, "tool_use", use.Type)
	assert.Equal(t, "get_weather", use.Name)
	assert.JSONEq(t, `{"city":"Paris"}`, string(use.Input))
	assert.Equal(t, anthropic.StopReasonToolUse, msg.StopReason)

	// Gemini's errors reach an Anthropic caller in Anthropic's shape, and a
	// stream Gemini cuts ends in an error.
	require.NoError(t, up.SetGeminiFaults(gatewaytest.GeminiFaults{Status: 429, RetryDelay: 3e9}))
	_, err = client.Messages.New(t.Context(), params)
	var apiErr *anthropic.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 429, apiErr.StatusCode)
	assert.Contains(t, apiErr.Error(), "rate_limit_error")
	assert.Equal(t, "3", apiErr.Response.Header.Get("Retry-After"))

	require.NoError(t, up.SetGeminiFaults(gatewaytest.GeminiFaults{CutStreams: true, CutAfter: 2}))
	up.SetReply(gatewaytest.GeminiReply{Text: "one two three four"})
	stream = client.Messages.NewStreaming(t.Context(), params)
	for i := 0; i < maxChunks && stream.Next(); i++ {
	}
	assert.Error(t, stream.Err())
	stream.Close()
}

// The front door's token counting goes to Gemini's countTokens, system and
// tools included, and costs no usage.
func TestGemini_MessagesCountTokens(t *testing.T) {
	up, p := geminiFixture(t, gatewaytest.GeminiConfig{})
	calls := observedCalls(make(chan *gateway.Call, 8))
	client := frontDoor(t, p, gateway.WithObserver(calls.observe))
	n, err := client.Messages.CountTokens(t.Context(), anthropic.MessageCountTokensParams{Model: "gemini-2.5-flash",
		System:   anthropic.MessageCountTokensParamsSystemUnion{OfTextBlockArray: []anthropic.TextBlockParam{{Text: "Be brief."}}},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("How many tokens is this?"))},
		Tools:    []anthropic.MessageCountTokensToolUnionParam{{OfTool: weatherParam.OfTool}}})
	require.NoError(t, err)
	assert.Positive(t, n.InputTokens)
	u, ok := calls.next(t).Usage()
	require.True(t, ok)
	assert.Equal(t, gateway.Usage{}, u, "counting costs nothing")

	reqs := up.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/v1beta/models/gemini-2.5-flash:countTokens", reqs[0].Path)
	var sent struct {
		GenerateContentRequest struct {
			Model             string           `json:"model"`
			Contents          []map[string]any `json:"contents"`
			SystemInstruction map[string]any   `json:"systemInstruction"`
			Tools             []map[string]any `json:"tools"`
		} `json:"generateContentRequest"`
	}
	require.NoError(t, json.Unmarshal(reqs[0].Body, &sent))
	assert.Equal(t, "models/gemini-2.5-flash", sent.GenerateContentRequest.Model)
	assert.Len(t, sent.GenerateContentRequest.Contents, 1)
	assert.NotNil(t, sent.GenerateContentRequest.SystemInstruction)
	assert.Len(t, sent.GenerateContentRequest.Tools, 1)

	require.NoError(t, up.SetGeminiFaults(gatewaytest.GeminiFaults{Status: 503}))
	_, err = client.Messages.CountTokens(t.Context(), anthropic.MessageCountTokensParams{Model: "gemini-2.5-flash",
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("x"))}})
	var apiErr *anthropic.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 503, apiErr.StatusCode)
	assert.Contains(t, apiErr.Error(), `"type":"error"`)
}
