package anthropicwire

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/internal/chatwire"
)

var facts = Facts{Model: "claude-sonnet-4-5", MaxTokens: 100}

// TestChatToMessagesTraps pins each trap of an OpenAI request sent to
// Anthropic, each a bug in a peer gateway.
func TestChatToMessagesTraps(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		f    Facts
		want string
	}{
		{"system and developer anywhere lift into system, keeping cache_control",
			`{"model":"ignored","messages":[{"role":"system","content":"A"},{"role":"user","content":"hi"},
			 {"role":"developer","content":[{"type":"text","text":"B","cache_control":{"type":"ephemeral","ttl":"1h"}}]},
			 {"role":"assistant","content":"yo"}]}`, facts,
			`{"model":"claude-sonnet-4-5","max_tokens":100,
			  "system":[{"type":"text","text":"A"},{"type":"text","text":"B","cache_control":{"type":"ephemeral","ttl":"1h"}}],
			  "messages":[{"role":"user","content":[{"type":"text","text":"hi"}]},{"role":"assistant","content":[{"type":"text","text":"yo"}]}]}`},
		{"parallel tool results share one user turn; arguments string becomes an input object",
			`{"messages":[{"role":"user","content":"weather in Paris and Rome?"},
			 {"role":"assistant","content":null,"tool_calls":[
			   {"id":"call_A","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
			   {"id":"call_B","type":"function","function":{"name":"get_weather","arguments":""}}]},
			 {"role":"tool","tool_call_id":"call_A","content":"18C"},
			 {"role":"tool","tool_call_id":"call_B","content":[{"type":"text","text":"21C"}]},
			 {"role":"user","content":"thanks"}]}`, facts,
			`{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[
			  {"role":"user","content":[{"type":"text","text":"weather in Paris and Rome?"}]},
			  {"role":"assistant","content":[{"type":"tool_use","id":"call_A","name":"get_weather","input":{"city":"Paris"}},
			                                 {"type":"tool_use","id":"call_B","name":"get_weather","input":{}}]},
			  {"role":"user","content":[{"type":"tool_result","tool_use_id":"call_A","content":"18C"},
			                            {"type":"tool_result","tool_use_id":"call_B","content":[{"type":"text","text":"21C"}]},
			                            {"type":"text","text":"thanks"}]}]}`},
		{"tools, tool_choice required and parallel_tool_calls false",
			`{"messages":[{"role":"user","content":"x"}],"tool_choice":"required","parallel_tool_calls":false,
			  "tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object","properties":{"a":{"type":"string"}}}}},
			           {"type":"function","function":{"name":"g"}}]}`, facts,
			`{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],
			  "tools":[{"name":"f","description":"d","input_schema":{"type":"object","properties":{"a":{"type":"string"}}}},
			           {"name":"g","input_schema":{"type":"object","properties":{}}}],
			  "tool_choice":{"type":"any","disable_parallel_tool_use":true}}`},
		{"tool_choice naming a function",
			`{"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"function","function":{"name":"f"}},
			  "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]}`, facts,
			`{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],
			  "tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"f"}}`},
		{"tool_choice none; parallel alone is auto with parallel off",
			`{"messages":[{"role":"user","content":"x"}],"tool_choice":"none","tools":[{"type":"function","function":{"name":"f"}}]}`, facts,
			`{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],
			  "tools":[{"name":"f","input_schema":{"type":"object","properties":{}}}],"tool_choice":{"type":"none"}}`},
		{"temperature clamps to 1, stop is stop_sequences, user is metadata, stream and max_tokens from the Call",
			`{"messages":[{"role":"user","content":"x"}],"temperature":1.7,"top_p":0.9,"stop":"END","user":"u-1","stream":false,"max_tokens":5}`,
			Facts{Model: "m", Stream: true, MaxTokens: 4096},
			`{"model":"m","max_tokens":4096,"stream":true,"temperature":1,"top_p":0.9,"stop_sequences":["END"],"metadata":{"user_id":"u-1"},
			  "messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]}`},
		{"images as base64 and URL sources",
			`{"messages":[{"role":"user","content":[{"type":"text","text":"what?"},
			  {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
			  {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg","detail":"high"}}]}]}`, facts,
			`{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":[{"type":"text","text":"what?"},
			  {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
			  {"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}]}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ChatToMessages([]byte(tc.in), tc.f)
			require.NoError(t, err)
			assert.JSONEq(t, tc.want, string(got))
		})
	}
}

func TestChatToMessagesRefusesWhatItCannotExpress(t *testing.T) {
	for name, in := range map[string]string{
		"n > 1":                   `{"messages":[{"role":"user","content":"x"}],"n":2}`,
		"arguments not an object": `{"messages":[{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"f","arguments":"[1]"}}]}]}`,
		"unknown role":            `{"messages":[{"role":"wizard","content":"x"}]}`,
		"tool without an id":      `{"messages":[{"role":"tool","content":"x"}]}`,
		"audio part":              `{"messages":[{"role":"user","content":[{"type":"input_audio"}]}]}`,
		"not JSON":                `{"messages":`,
	} {
		_, err := ChatToMessages([]byte(in), facts)
		assert.True(t, IsTranslationError(err), "%s: %v", name, err)
	}
}

func TestMessagesToChatKeepsThinkingAndMapsToolsAndUsage(t *testing.T) {
	raw, err := os.ReadFile("testdata/message_thinking.json")
	require.NoError(t, err)
	got, err := MessagesToChat(raw, 1700000000)
	require.NoError(t, err)
	var c struct {
		Created int64 `json:"created"`
		Choices []struct {
			Message      chatMessage `json:"message"`
			FinishReason string      `json:"finish_reason"`
		} `json:"choices"`
		Usage chatwire.Usage `json:"usage"`
	}
	require.NoError(t, json.Unmarshal(got, &c))
	m := c.Choices[0].Message
	assert.EqualValues(t, 1700000000, c.Created)
	assert.JSONEq(t, `"Let me check."`, string(m.Content))
	require.Len(t, m.ToolCalls, 1)
	assert.Equal(t, `{"city":"Oslo","units":"metric"}`, m.ToolCalls[0].Function.Arguments)
	assert.Equal(t, "toolu_C", m.ToolCalls[0].ID)
	assert.Equal(t, "The user wants the weather.", *m.ReasoningContent)
	assert.Equal(t, "tool_calls", c.Choices[0].FinishReason)
	assert.Equal(t, chatwire.Usage{PromptTokens: 1050, CompletionTokens: 40, TotalTokens: 1090,
		PromptDetails: &chatwire.PromptDetails{CachedTokens: 1000}}, c.Usage)

	// The client sends the assistant message back: its thinking blocks
	// reach Anthropic byte for byte, or the conversation is wedged.
	var orig struct{ Content []json.RawMessage }
	require.NoError(t, json.Unmarshal(raw, &orig))
	asst, err := json.Marshal(m)
	require.NoError(t, err)
	next := `{"messages":[{"role":"user","content":"weather?"},` + string(asst) +
		`,{"role":"tool","tool_call_id":"toolu_C","content":"-3C"}]}`
	req, err := ChatToMessages([]byte(next), facts)
	require.NoError(t, err)
	var back msgRequest
	require.NoError(t, json.Unmarshal(req, &back))
	var blocks []json.RawMessage
	require.NoError(t, json.Unmarshal(back.Messages[1].Content, &blocks))
	require.Len(t, blocks, 4)
	assert.Equal(t, compact(t, orig.Content[0]), compact(t, blocks[0]), "thinking replayed unchanged")
	assert.Equal(t, compact(t, orig.Content[1]), compact(t, blocks[1]), "redacted_thinking replayed unchanged")
	assert.JSONEq(t, `{"type":"tool_use","id":"toolu_C","name":"get_weather","input":{"city":"Oslo","units":"metric"}}`, string(blocks[3]))
}

func compact(t *testing.T, b []byte) string {
	var out bytes.Buffer
	require.NoError(t, json.Compact(&out, b))
	return out.String()
}

func TestStopReasonsMapBothWays(t *testing.T) {
	for stop, finish := range map[string]string{
		"end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop",
		"max_tokens": "length", "model_context_window_exceeded": "length",
		"tool_use": "tool_calls", "refusal": "content_filter",
		"a_reason_added_next_year": "stop", "": "stop",
	} {
		assert.Equal(t, finish, FinishReason(stop), stop)
	}
	for finish, stop := range map[string]string{
		"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
		"content_filter": "refusal", "something_new": "end_turn",
	} {
		assert.Equal(t, stop, StopReason(finish), finish)
	}
}
