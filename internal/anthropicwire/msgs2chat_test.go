package anthropicwire

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/internal/chatwire"
)

// TestMessagesToChatRequestTraps pins the front door's request translation
// to an OpenAI-format target.
func TestMessagesToChatRequestTraps(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		f    Facts
		want string
	}{
		{"system first; tool results before the turn's text; images as data URLs; stream asks for usage",
			`{"model":"x","max_tokens":9,"stream":true,"system":[{"type":"text","text":"A","cache_control":{"type":"ephemeral"}},{"type":"text","text":"B"}],
			  "messages":[{"role":"user","content":[{"type":"text","text":"look"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}}]},
			   {"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"text","text":"calling"},
			     {"type":"tool_use","id":"toolu_1","name":"f","input":{"a":1}},{"type":"tool_use","id":"toolu_2","name":"f","input":{}}]},
			   {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"one"},
			     {"type":"tool_result","tool_use_id":"toolu_2","content":[{"type":"text","text":"two"}]},{"type":"text","text":"and?"}]}]}`,
			Facts{Model: "gpt-4.1", Stream: true, MaxTokens: 9},
			`{"model":"gpt-4.1","max_tokens":9,"stream":true,"stream_options":{"include_usage":true},"messages":[
			  {"role":"system","content":"A\nB"},
			  {"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBO"}}]},
			  {"role":"assistant","content":"calling","tool_calls":[
			    {"id":"toolu_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},
			    {"id":"toolu_2","type":"function","function":{"name":"f","arguments":"{}"}}]},
			  {"role":"tool","tool_call_id":"toolu_1","content":"one"},
			  {"role":"tool","tool_call_id":"toolu_2","content":"two"},
			  {"role":"user","content":"and?"}]}`},
		{"tools, tool_choice any with parallel off, stop sequences, metadata",
			`{"model":"x","max_tokens":9,"messages":[{"role":"user","content":"x"}],"stop_sequences":["END"],"temperature":0.5,"top_k":5,
			  "metadata":{"user_id":"u-1"},"tools":[{"name":"f","description":"d","input_schema":{"type":"object"}}],
			  "tool_choice":{"type":"any","disable_parallel_tool_use":true},"thinking":{"type":"enabled","budget_tokens":1024}}`,
			Facts{Model: "gpt-4.1", MaxTokens: 9},
			`{"model":"gpt-4.1","max_tokens":9,"messages":[{"role":"user","content":"x"}],"stop":["END"],"temperature":0.5,"user":"u-1",
			  "tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object"}}}],
			  "tool_choice":"required","parallel_tool_calls":false}`},
		{"tool_choice naming a tool",
			`{"messages":[{"role":"user","content":"x"}],"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"f"}}`,
			Facts{Model: "m"},
			`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],
			  "tool_choice":{"type":"function","function":{"name":"f"}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MessagesToChatRequest([]byte(tc.in), tc.f)
			require.NoError(t, err)
			assert.JSONEq(t, tc.want, string(got))
		})
	}
	_, err := MessagesToChatRequest([]byte(`{"messages":[],"tools":[{"type":"web_search_20250305","name":"web_search"}]}`), facts)
	assert.True(t, IsTranslationError(err), "a server tool has no OpenAI counterpart")
}

func TestChatToMessagesResponse(t *testing.T) {
	in := `{"id":"chatcmpl-9","object":"chat.completion","model":"gpt-4.1","choices":[{"index":0,"message":{"role":"assistant",
	  "content":"Sure.","reasoning_content":"why not","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":[1,2]}"}},
	  {"id":"call_2","type":"function","function":{"name":"g","arguments":"not json"}}]},"finish_reason":"tool_calls"}],
	  "usage":{"prompt_tokens":1200,"completion_tokens":30,"total_tokens":1230,"prompt_tokens_details":{"cached_tokens":1024}}}`
	got, err := ChatToMessagesResponse([]byte(in), "claude-alias")
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"msg_chatcmpl-9","type":"message","role":"assistant","model":"claude-alias","content":[
	  {"type":"thinking","thinking":"why not","signature":""},{"type":"text","text":"Sure."},
	  {"type":"tool_use","id":"call_1","name":"f","input":{"a":[1,2]}},
	  {"type":"tool_use","id":"call_2","name":"g","input":{"arguments":"not json"}}],
	  "stop_reason":"tool_use","stop_sequence":null,
	  "usage":{"input_tokens":176,"output_tokens":30,"cache_creation_input_tokens":0,"cache_read_input_tokens":1024}}`, string(got))
}

// TestUsageMapsBothWays: OpenAI's prompt_tokens include the cache's,
// Anthropic's input_tokens do not; the cache writes by lifetime survive.
func TestUsageMapsBothWays(t *testing.T) {
	m := msgUsage{InputTokens: 7, OutputTokens: 3, CacheReadInputTokens: 100, CacheCreationInputTokens: 50,
		CacheCreation: &msgCacheCreation{Ephemeral5m: 30, Ephemeral1h: 20}}
	c := chatUsageOf(m)
	assert.Equal(t, 157, c.PromptTokens)
	assert.Equal(t, chatwire.PromptDetails{CachedTokens: 100, CacheWriteTokens: 50, CacheWrite1hTokens: 20}, *c.PromptDetails)
	assert.Equal(t, m, msgUsageOf(c))
	b, _ := json.Marshal(c)
	assert.Contains(t, string(b), `"prompt_tokens_details":{"cached_tokens":100,"cache_write_tokens":50,"cache_write_1h_tokens":20}`,
		"under the names the gateway's usage reader knows")
}
