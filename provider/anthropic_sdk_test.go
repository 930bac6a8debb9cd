package provider_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/provider"
)

const anthropicKey = "sk-ant-api03-upstreamSecretKey0123456789"

// newFakeAnthropic is a fake Anthropic upstream and a provider for it.
func newFakeAnthropic(t *testing.T, cfg gatewaytest.AnthropicConfig) (*gatewaytest.AnthropicServer, *provider.Anthropic) {
	t.Helper()
	cfg.APIKey = anthropicKey
	up, err := gatewaytest.NewAnthropicServer(cfg)
	require.NoError(t, err)
	t.Cleanup(up.Close)
	p, err := provider.NewAnthropic(provider.AnthropicConfig{BaseURL: up.BaseURL(), APIKey: anthropicKey})
	require.NoError(t, err)
	t.Cleanup(p.CloseIdleConnections)
	return up, p
}

var weatherTool = openai.ChatCompletionToolUnionParam{OfFunction: &openai.ChatCompletionFunctionToolParam{
	Function: openai.FunctionDefinitionParam{Name: "get_weather", Parameters: openai.FunctionParameters{
		"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}}}}

// TestAnthropic_OpenAISDK: openai-go, through the gateway, served by
// Anthropic (the fake upstream): text, stream, tool calls and usage with the
// cache numbers, and only the gateway's key upstream.
func TestAnthropic_OpenAISDK(t *testing.T) {
	usage := gatewaytest.AnthropicUsage{InputTokens: 10, CacheReadTokens: 100, CacheWrite5mTokens: 20, CacheWrite1hTokens: 5}
	up, p := newFakeAnthropic(t, gatewaytest.AnthropicConfig{Reply: "Hello there friend", Usage: usage,
		ToolUse: &gatewaytest.AnthropicToolUse{Name: "get_weather", Input: `{"city":"Paris"}`}})
	var calls []*gateway.Call
	client := openai.NewClient(sdkOptions(gateway.NewClient(p, gateway.WithObserver(func(c *gateway.Call) { calls = append(calls, c) })))...)
	params := openai.ChatCompletionNewParams{Model: "claude-sonnet-4-5",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Say hello")}}
	wantUsage := gateway.Usage{PromptTokens: 135, CompletionTokens: 3, CachedTokens: 100, CacheWriteTokens: 25, CacheWrite1hTokens: 5}

	t.Run("text", func(t *testing.T) {
		res, err := client.Chat.Completions.New(t.Context(), params)
		require.NoError(t, err)
		require.Len(t, res.Choices, 1)
		assert.Equal(t, "Hello there friend", res.Choices[0].Message.Content)
		assert.Equal(t, "stop", res.Choices[0].FinishReason)
		assert.EqualValues(t, 135, res.Usage.PromptTokens, "input + cache reads + cache writes")
		assert.EqualValues(t, 100, res.Usage.PromptTokensDetails.CachedTokens)
		u, ok := calls[len(calls)-1].Usage()
		require.True(t, ok)
		assert.Equal(t, wantUsage, u)
	})

	t.Run("stream", func(t *testing.T) {
		stream := client.Chat.Completions.NewStreaming(t.Context(), params)
		defer stream.Close()
		var acc openai.ChatCompletionAccumulator
		for i := 0; i < maxChunks && stream.Next(); i++ {
			acc.AddChunk(stream.Current())
			assert.NotEmpty(t, stream.Current().Choices, "no usage-only chunk the SDK did not ask for")
		}
		require.NoError(t, stream.Err())
		require.Len(t, acc.Choices, 1)
		assert.Equal(t, "Hello there friend", acc.Choices[0].Message.Content)
		assert.Equal(t, "stop", acc.Choices[0].FinishReason)
		u, _ := calls[len(calls)-1].Usage()
		assert.Equal(t, wantUsage, u, "final usage from message_start and message_delta")
	})

	tp := params
	tp.Tools = []openai.ChatCompletionToolUnionParam{weatherTool}
	t.Run("tool call", func(t *testing.T) {
		res, err := client.Chat.Completions.New(t.Context(), tp)
		require.NoError(t, err)
		msg := res.Choices[0].Message
		require.Len(t, msg.ToolCalls, 1)
		assert.Equal(t, "get_weather", msg.ToolCalls[0].Function.Name)
		assert.JSONEq(t, `{"city":"Paris"}`, msg.ToolCalls[0].Function.Arguments)
		assert.Equal(t, "tool_calls", res.Choices[0].FinishReason)
	})

	t.Run("tool call stream", func(t *testing.T) {
		stream := client.Chat.Completions.NewStreaming(t.Context(), tp)
		defer stream.Close()
		var acc openai.ChatCompletionAccumulator
		for i := 0; i < maxChunks && stream.Next(); i++ {
			acc.AddChunk(stream.Current())
		}
		require.NoError(t, stream.Err())
		calls := acc.Choices[0].Message.ToolCalls
		require.Len(t, calls, 1)
		assert.Equal(t, "toolu_fake1", calls[0].ID)
		assert.Equal(t, "get_weather", calls[0].Function.Name)
		assert.JSONEq(t, `{"city":"Paris"}`, calls[0].Function.Arguments)
		assert.Equal(t, "tool_calls", acc.Choices[0].FinishReason)
	})

	for _, r := range up.Requests() {
		assert.Equal(t, anthropicKey, r.Header.Get("X-Api-Key"))
		assert.Empty(t, r.Header.Get("Authorization"), "the caller's key never goes upstream")
		assert.Equal(t, provider.DefaultAnthropicVersion, r.Header.Get("Anthropic-Version"))
		assert.Equal(t, "/v1/messages", r.Path)
	}
	assert.Len(t, up.Requests(), 4)
}

// sdkOptions are openai-go's options over hc, with a caller key the
// gateway must not forward.
func sdkOptions(hc *http.Client) []option.RequestOption {
	return []option.RequestOption{option.WithHTTPClient(hc), option.WithBaseURL("http://gateway.invalid/v1/"),
		option.WithAPIKey("caller-virtual-key"), option.WithMaxRetries(0)}
}

// oaiToolAnswer answers like OpenAI, with a get_weather tool call when the
// request offers tools.
func oaiToolAnswer(w http.ResponseWriter, r *http.Request, body []byte) {
	if !strings.Contains(string(body), `"tools"`) {
		oaiDefaultAnswer(w, r, body)
		return
	}
	var f oaiRequestFields
	_ = json.Unmarshal(body, &f)
	if !f.Stream {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"chatcmpl-2","object":"chat.completion","created":1,"model":%q,"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":9,"completion_tokens":5,"total_tokens":14}}`, f.Model)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	for _, ev := range []string{
		`{"id":"c2","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}`,
		`{"id":"c2","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"finish_reason":null}]}`,
		`{"id":"c2","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"finish_reason":null}]}`,
		`{"id":"c2","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
		`{"id":"c2","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":5,"total_tokens":14}}`,
	} {
		fmt.Fprintf(w, "data: %s\n\n", ev)
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}

// frontDoor is the gateway's handler over p on a loopback server, and the
// Anthropic SDK pointed at it with a caller key.
func frontDoor(t *testing.T, p gateway.Provider, opts ...gateway.Option) anthropic.Client {
	t.Helper()
	srv := httptest.NewServer(gateway.NewHandler(p, opts...))
	t.Cleanup(srv.Close)
	return anthropic.NewClient(aoption.WithBaseURL(srv.URL), aoption.WithAPIKey("caller-virtual-key"), aoption.WithMaxRetries(0))
}

// observedCalls collects the calls an entry point observes, in order. In
// server mode a non-stream answer reaches the caller before its observers
// run, so a test waits for the observation instead of reading a variable
// the observer sets.
type observedCalls chan *gateway.Call

func (o observedCalls) observe(c *gateway.Call) { o <- c }

// next is the next call observed, waiting for it at most 5 s.
func (o observedCalls) next(t *testing.T) *gateway.Call {
	t.Helper()
	select {
	case c := <-o:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no call was observed")
		return nil
	}
}

var weatherParam = anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{Name: "get_weather",
	InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}}}}

// TestMessagesFrontDoor_AnthropicSDK: anthropic-sdk-go against /v1/messages,
// fronting an OpenAI-format upstream (the Sim, translated both ways) and an
// Anthropic one (the fake, natively): text, streams, tool calls, usage.
func TestMessagesFrontDoor_AnthropicSDK(t *testing.T) {
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 3, Reply: "Hello there friend"})
	_, native := newFakeAnthropic(t, gatewaytest.AnthropicConfig{Reply: "Hello there friend",
		Usage:   gatewaytest.AnthropicUsage{InputTokens: 10, CacheReadTokens: 100},
		ToolUse: &gatewaytest.AnthropicToolUse{Name: "get_weather", Input: `{"city":"Paris"}`}})
	oaiUp := newOAIUpstream(t, oaiToolAnswer)
	oai := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: oaiUp.URL + "/v1", APIKey: upstreamKey})
	for _, tc := range []struct {
		name       string
		p          gateway.Provider
		wantPrompt int
		text       string
		tools      bool
	}{
		{"sim", sim, 0, "Hello there friend", false},
		{"openai", oai, 0, "Hello there", true},
		{"anthropic", native, 110, "Hello there friend", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := observedCalls(make(chan *gateway.Call, 8))
			client := frontDoor(t, tc.p, gateway.WithObserver(calls.observe))
			params := anthropic.MessageNewParams{Model: "claude-sonnet-4-5", MaxTokens: 64,
				System:   []anthropic.TextBlockParam{{Text: "Be brief."}},
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Say hello"))}}

			msg, err := client.Messages.New(t.Context(), params)
			require.NoError(t, err)
			require.NotEmpty(t, msg.Content)
			assert.Equal(t, tc.text, msg.Content[len(msg.Content)-1].Text)
			assert.Equal(t, anthropic.StopReasonEndTurn, msg.StopReason)
			u, ok := calls.next(t).Usage()
			require.True(t, ok)
			assert.False(t, u.Estimated)
			assert.Positive(t, u.CompletionTokens)
			if tc.wantPrompt > 0 {
				assert.Equal(t, tc.wantPrompt, u.PromptTokens, "Anthropic's input_tokens plus the cache's")
				assert.EqualValues(t, 10, msg.Usage.InputTokens, "the caller sees Anthropic's own numbers")
			}

			stream := client.Messages.NewStreaming(t.Context(), params)
			var acc anthropic.Message
			for i := 0; i < maxChunks && stream.Next(); i++ {
				require.NoError(t, acc.Accumulate(stream.Current()))
			}
			require.NoError(t, stream.Err())
			stream.Close()
			require.NotEmpty(t, acc.Content)
			assert.Equal(t, tc.text, acc.Content[len(acc.Content)-1].Text)
			assert.Equal(t, anthropic.StopReasonEndTurn, acc.StopReason)
			assert.Positive(t, acc.Usage.OutputTokens)
			su, _ := calls.next(t).Usage()
			assert.Equal(t, u, su, "stream and non-stream usage agree")

			if !tc.tools {
				return
			}
			tp := params
			tp.Tools = []anthropic.ToolUnionParam{weatherParam}
			msg, err = client.Messages.New(t.Context(), tp)
			require.NoError(t, err)
			use := msg.Content[len(msg.Content)-1]
			assert.Equal(t, "tool_use", use.Type)
			assert.Equal(t, "get_weather", use.Name)
			assert.JSONEq(t, `{"city":"Paris"}`, string(use.Input))
			assert.Equal(t, anthropic.StopReasonToolUse, msg.StopReason)

			stream = client.Messages.NewStreaming(t.Context(), tp)
			acc = anthropic.Message{}
			for i := 0; i < maxChunks && stream.Next(); i++ {
				require.NoError(t, acc.Accumulate(stream.Current()))
			}
			require.NoError(t, stream.Err())
			stream.Close()
			use = acc.Content[len(acc.Content)-1]
			assert.Equal(t, "get_weather", use.Name)
			var in map[string]string
			require.NoError(t, json.Unmarshal(use.Input, &in))
			assert.Equal(t, "Paris", in["city"])
			assert.Equal(t, anthropic.StopReasonToolUse, acc.StopReason)
		})
	}
}
