package provider_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/provider"
	"github.com/llmgate/gateway/router"
)

var _ gateway.Provider = (*provider.Anthropic)(nil)

// lastBody decodes the last request the fake Anthropic upstream received.
func lastBody(t *testing.T, up *gatewaytest.AnthropicServer) map[string]any {
	t.Helper()
	reqs := up.Requests()
	require.NotEmpty(t, reqs)
	var m map[string]any
	require.NoError(t, json.Unmarshal(reqs[len(reqs)-1].Body, &m))
	return m
}

func TestAnthropic_MaxTokensDefault(t *testing.T) {
	up, p := newFakeAnthropic(t, gatewaytest.AnthropicConfig{})
	client := gateway.NewClient(p)
	for body, want := range map[string]float64{
		`{"model":"c","messages":[{"role":"user","content":"hi"}]}`:                            provider.DefaultAnthropicMaxTokens,
		`{"model":"c","messages":[{"role":"user","content":"hi"}],"max_tokens":50}`:            50,
		`{"model":"c","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":70}`: 70,
	} {
		resp := oaiPost(t, client, "/v1/chat/completions", body)
		require.Equal(t, 200, resp.StatusCode, readAll(t, resp.Body))
		assert.Equal(t, want, lastBody(t, up)["max_tokens"], body)
	}
	p2, err := provider.NewAnthropic(provider.AnthropicConfig{BaseURL: up.BaseURL(), APIKey: anthropicKey, DefaultMaxTokens: 1000})
	require.NoError(t, err)
	defer p2.CloseIdleConnections()
	resp := oaiPost(t, gateway.NewClient(p2), "/v1/chat/completions", `{"model":"c","messages":[{"role":"user","content":"hi"}]}`)
	readAll(t, resp.Body)
	assert.EqualValues(t, 1000, lastBody(t, up)["max_tokens"])
}

// TestAnthropic_OverloadIsOverloaded: a 529 keeps its status for the
// breaker (Overloaded, a failure that opens it), in both shapes.
func TestAnthropic_OverloadIsOverloaded(t *testing.T) {
	up, p := newFakeAnthropic(t, gatewaytest.AnthropicConfig{})
	require.NoError(t, up.SetAnthropicFaults(gatewaytest.AnthropicFaults{Status: 529}))
	client := gateway.NewClient(p)

	resp := oaiPost(t, client, "/v1/chat/completions", `{"model":"c","messages":[{"role":"user","content":"hi"}]}`)
	assert.Equal(t, 529, resp.StatusCode)
	assert.Equal(t, breaker.Overloaded, breaker.Classify(nil, resp, nil))
	var oe struct {
		Error struct{ Type, Message string }
	}
	require.NoError(t, json.Unmarshal([]byte(readAll(t, resp.Body)), &oe))
	assert.Equal(t, "overloaded_error", oe.Error.Type, "OpenAI's shape for a chat caller")

	resp = oaiPost(t, client, "/v1/messages", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`)
	assert.Equal(t, 529, resp.StatusCode)
	var ae struct {
		Type  string
		Error struct{ Type, Message string }
	}
	require.NoError(t, json.Unmarshal([]byte(readAll(t, resp.Body)), &ae))
	assert.Equal(t, "error", ae.Type, "Anthropic's shape for a Messages caller")
	assert.Equal(t, "overloaded_error", ae.Error.Type)
}

// TestAnthropic_ErrorBodiesAreRedacted: the OpenAI adapter's redaction, on
// both paths; the key is only ever in x-api-key.
func TestAnthropic_ErrorBodiesAreRedacted(t *testing.T) {
	leak := `{"type":"error","error":{"type":"invalid_request_error","message":"org 5f2c8e1a-1234-4abc-9def-0123456789ab: key ` + anthropicKey + ` is over its limit"}}`
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Anthropic-Organization-Id", "5f2c8e1a-1234-4abc-9def-0123456789ab")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, leak)
	}))
	defer up.Close()
	p, err := provider.NewAnthropic(provider.AnthropicConfig{BaseURL: up.URL, APIKey: anthropicKey})
	require.NoError(t, err)
	defer p.CloseIdleConnections()
	client := gateway.NewClient(p)
	for path, body := range map[string]string{
		"/v1/chat/completions": `{"model":"c","messages":[{"role":"user","content":"hi"}]}`,
		"/v1/messages":         `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
	} {
		resp := oaiPost(t, client, path, body)
		got := readAll(t, resp.Body)
		assert.Equal(t, 400, resp.StatusCode)
		assert.NotContains(t, got, "5f2c8e1a", path)
		assert.NotContains(t, got, anthropicKey, path)
		assert.Contains(t, got, "is over its limit", path)
		assert.Empty(t, resp.Header.Get("Anthropic-Organization-Id"))
	}

	refused, err := provider.NewAnthropic(provider.AnthropicConfig{BaseURL: "http://" + closedAddr(t), APIKey: anthropicKey})
	require.NoError(t, err)
	_, err = gateway.NewClient(refused).Post("http://gateway.invalid/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"c","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		assert.NotContains(t, err.Error(), anthropicKey)
	}
}

func TestAnthropic_UpstreamSeesOnlyItsKeyAndTheBetas(t *testing.T) {
	up, err := gatewaytest.NewAnthropicServer(gatewaytest.AnthropicConfig{APIKey: anthropicKey})
	require.NoError(t, err)
	defer up.Close()
	p, err := provider.NewAnthropic(provider.AnthropicConfig{BaseURL: up.BaseURL(), APIKey: anthropicKey,
		Beta: []string{"prompt-caching-2024-07-31"}, ModelMap: map[string]string{"claude": "claude-sonnet-4-5-20250929"}})
	require.NoError(t, err)
	defer p.CloseIdleConnections()
	client := frontDoor(t, p)
	_, err = client.Messages.New(t.Context(), anthropic.MessageNewParams{Model: "claude", MaxTokens: 8,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	}, aoption.WithHeader("anthropic-beta", "extended-cache-ttl-2025-04-11, bad value"))
	require.NoError(t, err)
	r := up.Requests()[0]
	assert.Equal(t, anthropicKey, r.Header.Get("X-Api-Key"))
	assert.Empty(t, r.Header.Get("Authorization"))
	assert.Empty(t, r.Query, "the key is never in a URL")
	assert.Equal(t, "prompt-caching-2024-07-31,extended-cache-ttl-2025-04-11", r.Header.Get("Anthropic-Beta"))
	assert.Equal(t, "claude-sonnet-4-5-20250929", lastBody(t, up)["model"])
}

func TestAnthropicConfigValidateJoinsEveryError(t *testing.T) {
	err := provider.AnthropicConfig{BaseURL: "ftp://x?key=1", DefaultMaxTokens: -1, Beta: []string{"a b"},
		Headers: map[string]string{"x-api-key": "v"}, Version: "2023 06"}.Validate()
	require.Error(t, err)
	for _, want := range []string{"BaseURL", "DefaultMaxTokens", "Beta", "x-api-key", "Version"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NoError(t, provider.AnthropicConfig{APIKey: "k"}.Validate(), "the zero value serves api.anthropic.com")
}

// TestAnthropic_ThinkingReplayedUnchanged: the fake refuses a modified
// thinking block, as Anthropic does; a chat client that sends back the
// assistant message it got (thinking_blocks included) goes on.
func TestAnthropic_ThinkingReplayedUnchanged(t *testing.T) {
	_, p := newFakeAnthropic(t, gatewaytest.AnthropicConfig{Thinking: "Let me think <carefully> & well.",
		ToolUse: &gatewaytest.AnthropicToolUse{Name: "f", Input: `{"a":1}`}})
	client := gateway.NewClient(p)
	tools := `"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]`
	for _, stream := range []bool{false, true} {
		first := `{"model":"c","messages":[{"role":"user","content":"go"}],` + tools + `}`
		var asst map[string]any
		if !stream {
			resp := oaiPost(t, client, "/v1/chat/completions", first)
			var c struct {
				Choices []struct{ Message map[string]any }
			}
			require.NoError(t, json.Unmarshal([]byte(readAll(t, resp.Body)), &c))
			asst = c.Choices[0].Message
		} else {
			sc := openai.NewClient(sdkOptions(client)...)
			s := sc.Chat.Completions.NewStreaming(t.Context(), openai.ChatCompletionNewParams{Model: "c",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("go")},
				Tools:    []openai.ChatCompletionToolUnionParam{{OfFunction: &openai.ChatCompletionFunctionToolParam{Function: openai.FunctionDefinitionParam{Name: "f"}}}}})
			var blocks []any
			var acc openai.ChatCompletionAccumulator
			for i := 0; i < maxChunks && s.Next(); i++ {
				acc.AddChunk(s.Current())
				var raw struct {
					Choices []struct {
						Delta struct {
							ThinkingBlocks []any `json:"thinking_blocks"`
						}
					}
				}
				require.NoError(t, json.Unmarshal([]byte(s.Current().RawJSON()), &raw))
				for _, ch := range raw.Choices {
					blocks = append(blocks, ch.Delta.ThinkingBlocks...)
				}
			}
			require.NoError(t, s.Err())
			s.Close()
			b, _ := json.Marshal(acc.Choices[0].Message)
			require.NoError(t, json.Unmarshal(b, &asst))
			asst["thinking_blocks"] = blocks
			require.Len(t, blocks, 1, "the streamed thinking block, whole with its signature")
		}
		require.NotEmpty(t, asst["thinking_blocks"])
		calls := asst["tool_calls"].([]any)
		id := calls[0].(map[string]any)["id"].(string)
		b, _ := json.Marshal(asst)
		next := `{"model":"c","messages":[{"role":"user","content":"go"},` + string(b) +
			`,{"role":"tool","tool_call_id":"` + id + `","content":"done"}],` + tools + `}`
		resp := oaiPost(t, client, "/v1/chat/completions", next)
		assert.Equal(t, 200, resp.StatusCode, "stream %v: %s", stream, readAll(t, resp.Body))
	}
}

// TestStreamCutMidwayEndsInAnError: on every path, an upstream that cuts
// its stream, or sends an error event after its 200, ends the caller's
// stream with an error, never a completion.
func TestStreamCutMidwayEndsInAnError(t *testing.T) {
	for _, f := range []gatewaytest.AnthropicFaults{{CutAfter: 2}, {ErrorAfter: 2}} {
		up, p := newFakeAnthropic(t, gatewaytest.AnthropicConfig{Reply: "one two three four five"})
		require.NoError(t, up.SetAnthropicFaults(f))

		// openai-go, client mode, over provider.Anthropic.
		sc := openai.NewClient(sdkOptions(gateway.NewClient(p))...)
		s := sc.Chat.Completions.NewStreaming(t.Context(), openai.ChatCompletionNewParams{Model: "c",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("go")}})
		var acc openai.ChatCompletionAccumulator
		for i := 0; i < maxChunks && s.Next(); i++ {
			acc.AddChunk(s.Current())
		}
		assert.Error(t, s.Err(), "%+v: client mode", f)
		s.Close()
		if len(acc.Choices) > 0 {
			assert.Empty(t, acc.Choices[0].FinishReason, "no fake completion")
		}

		// Server mode: the terminal error event in OpenAI's shape, no [DONE].
		srv := httptest.NewServer(gateway.NewHandler(p))
		resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"c","stream":true,"messages":[{"role":"user","content":"go"}]}`))
		require.NoError(t, err)
		body := readAll(t, resp.Body)
		assert.Contains(t, body, `data: {"error":`, "%+v", f)
		assert.NotContains(t, body, "[DONE]")

		// anthropic-sdk-go at the front door, natively to Anthropic.
		ac := frontDoor(t, p)
		as := ac.Messages.NewStreaming(t.Context(), anthropic.MessageNewParams{Model: "c", MaxTokens: 50,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("go"))}})
		var types []string
		for i := 0; i < maxChunks && as.Next(); i++ {
			types = append(types, as.Current().Type)
		}
		assert.Error(t, as.Err(), "%+v: front door, native", f)
		assert.NotContains(t, types, "message_stop")
		as.Close()
		srv.Close()
	}

	// The front door over an OpenAI-format target that cuts its stream.
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 6, Seed: 1,
		Faults: gatewaytest.Faults{CutRate: 1, CutAfter: 3}})
	ac := frontDoor(t, sim)
	as := ac.Messages.NewStreaming(t.Context(), anthropic.MessageNewParams{Model: "c", MaxTokens: 50,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("go"))}})
	var types []string
	for i := 0; i < maxChunks && as.Next(); i++ {
		types = append(types, as.Current().Type)
	}
	var apiErr *anthropic.Error
	require.ErrorAs(t, as.Err(), &apiErr, "front door, translated: the terminal error event")
	assert.Contains(t, apiErr.Error(), "api_error")
	assert.Contains(t, types, "content_block_delta", "content came first")
	assert.NotContains(t, types, "message_stop")
	as.Close()
}

// TestMessagesFallBackAcrossFormats: a Messages call whose Anthropic target
// is overloaded (529) falls back to an OpenAI-format one, translated, with
// nothing sent to the caller before; streams fail over before their first
// content the same way.
func TestMessagesFallBackAcrossFormats(t *testing.T) {
	up, claude := newFakeAnthropic(t, gatewaytest.AnthropicConfig{})
	require.NoError(t, up.SetAnthropicFaults(gatewaytest.AnthropicFaults{Status: 529}))
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 3, Reply: "from the sim"})
	rt, err := router.New("llm", []router.Target{{Provider: claude, Weight: 1, Tier: 0}, {Provider: sim, Weight: 1, Tier: 1}}, router.Config{})
	require.NoError(t, err)
	calls := observedCalls(make(chan *gateway.Call, 8))
	client := frontDoor(t, rt, gateway.WithObserver(calls.observe))
	params := anthropic.MessageNewParams{Model: "claude-x", MaxTokens: 16,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}

	m, err := client.Messages.New(t.Context(), params)
	require.NoError(t, err)
	assert.Equal(t, "from the sim", m.Content[0].Text)
	at := calls.next(t).Attempts()
	require.Len(t, at, 2)
	assert.Equal(t, 529, at[0].Status)
	assert.Equal(t, "sim", at[1].Target)

	s := client.Messages.NewStreaming(t.Context(), params)
	var acc anthropic.Message
	for i := 0; i < maxChunks && s.Next(); i++ {
		require.NoError(t, acc.Accumulate(s.Current()))
	}
	require.NoError(t, s.Err())
	s.Close()
	assert.Equal(t, "from the sim", acc.Content[0].Text)
	assert.Len(t, calls.next(t).Attempts(), 2)
}

// TestAnthropicErrorBeforeContentFailsOver: an error event before any
// content, translated, still lets the call move to the next target with
// nothing sent to the caller (invariant 3 across the translation).
func TestAnthropicErrorBeforeContentFailsOver(t *testing.T) {
	up, claude := newFakeAnthropic(t, gatewaytest.AnthropicConfig{})
	require.NoError(t, up.SetAnthropicFaults(gatewaytest.AnthropicFaults{ErrorFirst: true}))
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 3, Reply: "from the sim"})
	rt, err := router.New("llm", []router.Target{{Provider: claude, Weight: 1, Tier: 0}, {Provider: sim, Weight: 1, Tier: 1}}, router.Config{})
	require.NoError(t, err)
	var calls []*gateway.Call
	client := openai.NewClient(sdkOptions(gateway.NewClient(rt, gateway.WithObserver(func(c *gateway.Call) { calls = append(calls, c) })))...)
	s := client.Chat.Completions.NewStreaming(t.Context(), openai.ChatCompletionNewParams{Model: "c",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("go")}})
	var acc openai.ChatCompletionAccumulator
	for i := 0; i < maxChunks && s.Next(); i++ {
		acc.AddChunk(s.Current())
	}
	require.NoError(t, s.Err())
	require.NoError(t, s.Close())
	assert.Equal(t, "from the sim", acc.Choices[0].Message.Content)
	require.Len(t, calls, 1)
	at := calls[0].Attempts()
	require.Len(t, at, 2)
	assert.Equal(t, "stream_failed_before_content", at[0].Err)
	assert.Equal(t, "sim", at[1].Target)

	// The same at the Messages front door, natively to Anthropic.
	ac := frontDoor(t, rt)
	ms := ac.Messages.NewStreaming(t.Context(), anthropic.MessageNewParams{Model: "c", MaxTokens: 16,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("go"))}})
	var msg anthropic.Message
	for i := 0; i < maxChunks && ms.Next(); i++ {
		require.NoError(t, msg.Accumulate(ms.Current()))
	}
	require.NoError(t, ms.Err())
	ms.Close()
	assert.Equal(t, "from the sim", msg.Content[0].Text)
}
