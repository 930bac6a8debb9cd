package anthropicwire

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/llmgate/gateway/internal/sse"
)

// FuzzTranslate: whatever a translator accepts, it emits valid JSON in the
// other format (a request the other side can decode, every event of a
// stream JSON or [DONE]), and it never panics.
func FuzzTranslate(f *testing.F) {
	for _, name := range []string{"message_thinking.json", "stream_tools.sse", "stream_error.sse"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"messages":[{"role":"system","content":"A"},{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA"}}]},{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"f","arguments":"{}"}}],"thinking_blocks":[{"type":"thinking","thinking":"x","signature":"y"}]},{"role":"tool","tool_call_id":"a","content":"r"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required","parallel_tool_calls":false,"stop":["x"],"temperature":3}`,
		`{"system":[{"type":"text","text":"s"}],"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"x"}]},{"type":"image","source":{"type":"url","url":"u"}}]},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{"a":1}}]}],"tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"tool","name":"f","disable_parallel_tool_use":true}}`,
		`{"id":"c","choices":[{"message":{"content":null,"tool_calls":[{"id":"x","function":{"name":"f","arguments":"]["}}]},"finish_reason":"length"}],"usage":{"prompt_tokens":1,"prompt_tokens_details":{"cached_tokens":5}}}`,
		"data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":3,\"function\":{\"arguments\":\"{\"}}]}}]}\n\ndata: [DONE]\n\n",
		"data: {\"type\":\"content_block_delta\",\"index\":9,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\u0000\"}}\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fa := Facts{Model: "m", Stream: true, MaxTokens: 10}
		if out, err := ChatToMessages(in, fa); err == nil {
			var r msgRequest
			if json.Unmarshal(out, &r) != nil {
				t.Fatalf("ChatToMessages emitted %s", out)
			}
		}
		if out, err := MessagesToChatRequest(in, fa); err == nil {
			var r chatRequest
			if json.Unmarshal(out, &r) != nil {
				t.Fatalf("MessagesToChatRequest emitted %s", out)
			}
		}
		if out, err := MessagesToChat(in, 1); err == nil && !json.Valid(out) {
			t.Fatalf("MessagesToChat emitted %s", out)
		}
		if out, err := ChatToMessagesResponse(in, "m"); err == nil && !json.Valid(out) {
			t.Fatalf("ChatToMessagesResponse emitted %s", out)
		}
		for _, r := range []io.Reader{
			NewChatStream(io.NopCloser(bytes.NewReader(in)), 1),
			NewMessagesStream(io.NopCloser(bytes.NewReader(in)), "m"),
		} {
			b, _ := io.ReadAll(r)
			evs := sse.NewReader(bytes.NewReader(b), 0)
			for {
				ev, err := evs.Next()
				if err != nil {
					break
				}
				if !ev.IsDone() && !json.Valid(ev.Data) {
					t.Fatalf("stream event %q is not JSON", ev.Data)
				}
				if strings.ContainsAny(string(ev.Data), "\n") {
					t.Fatalf("event data holds a newline: %q", ev.Data)
				}
			}
		}
	})
}
