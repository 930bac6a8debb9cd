package anthropicwire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
)

// conversation returns an OpenAI chat request and the same conversation as
// a Messages request, of about size bytes: turns of user text, assistant
// tool calls and tool results.
func conversation(size int) (chat, msgs []byte) {
	var cm, mm []string
	cm = append(cm, `{"role":"system","content":"You are a helpful assistant."}`)
	text := strings.Repeat("lorem ipsum dolor sit amet ", 8)
	for i := 0; len(strings.Join(cm, ",")) < size; i++ {
		id := fmt.Sprintf("call_%d", i)
		cm = append(cm,
			`{"role":"user","content":"`+text+`"}`,
			`{"role":"assistant","content":"checking","tool_calls":[{"id":"`+id+`","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}`,
			`{"role":"tool","tool_call_id":"`+id+`","content":"18C and sunny"}`,
			`{"role":"assistant","content":"`+text+`"}`)
		mm = append(mm,
			`{"role":"user","content":"`+text+`"}`,
			`{"role":"assistant","content":[{"type":"text","text":"checking"},{"type":"tool_use","id":"`+id+`","name":"get_weather","input":{"city":"Paris"}}]}`,
			`{"role":"user","content":[{"type":"tool_result","tool_use_id":"`+id+`","content":"18C and sunny"}]}`,
			`{"role":"assistant","content":"`+text+`"}`)
	}
	tools := `"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]`
	chat = []byte(`{"model":"m","messages":[` + strings.Join(cm, ",") + `],` + tools + `}`)
	msgs = []byte(`{"model":"m","max_tokens":1024,"system":"You are a helpful assistant.","messages":[` + strings.Join(mm, ",") +
		`,{"role":"user","content":"and now?"}],"tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]}`)
	return chat, msgs
}

var sizes = []struct {
	name string
	n    int
}{{"1KB", 1 << 10}, {"100KB", 100 << 10}}

// BenchmarkTranslateRequest: a whole conversation, each direction, against
// the least any translation through encoding/json costs: decoding the body
// into generic values and encoding it again (JSONRoundTrip).
func BenchmarkTranslateRequest(b *testing.B) {
	for _, sz := range sizes {
		chat, msgs := conversation(sz.n)
		fa := Facts{Model: "m", MaxTokens: 1024}
		b.Run("ChatToMessages/"+sz.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(chat)))
			for b.Loop() {
				if _, err := ChatToMessages(chat, fa); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("MessagesToChat/"+sz.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(msgs)))
			for b.Loop() {
				if _, err := MessagesToChatRequest(msgs, fa); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("JSONRoundTrip/"+sz.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(chat)))
			for b.Loop() {
				var v any
				if err := json.Unmarshal(chat, &v); err != nil {
					b.Fatal(err)
				}
				if _, err := json.Marshal(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// repeatStream is n copies of one event, after a head and before a tail.
func repeatStream(head, ev, tail string, n int) []byte {
	var b bytes.Buffer
	b.WriteString(head)
	for range n {
		b.WriteString(ev)
	}
	b.WriteString(tail)
	return b.Bytes()
}

// BenchmarkStreamEvent: the cost of one streamed text delta, each
// direction (ns/op is per event).
func BenchmarkStreamEvent(b *testing.B) {
	const n = 1000
	anth := repeatStream(
		"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"c\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n"+
			"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" hello\"}}\n\n",
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", n)
	oai := repeatStream("",
		"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" hello\"},\"finish_reason\":null}]}\n\n",
		"data: [DONE]\n\n", n)
	buf := make([]byte, 32<<10)
	run := func(b *testing.B, in []byte, mk func(io.ReadCloser) io.ReadCloser) {
		b.ReportAllocs()
		for b.Loop() {
			r := mk(io.NopCloser(bytes.NewReader(in)))
			for {
				if _, err := r.Read(buf); err != nil {
					if err != io.EOF {
						b.Fatal(err)
					}
					break
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/event")
	}
	b.Run("MessagesToChat", func(b *testing.B) {
		run(b, anth, func(r io.ReadCloser) io.ReadCloser { return NewChatStream(r, 1) })
	})
	b.Run("ChatToMessages", func(b *testing.B) {
		run(b, oai, func(r io.ReadCloser) io.ReadCloser { return NewMessagesStream(r, "m") })
	})
	// The least a translation through encoding/json costs per event:
	// decoding it into generic values and encoding them again.
	ev := []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" hello"}}`)
	b.Run("JSONRoundTrip", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v any
			if err := json.Unmarshal(ev, &v); err != nil {
				b.Fatal(err)
			}
			if _, err := json.Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
	})
}
