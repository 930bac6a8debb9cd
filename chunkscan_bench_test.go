package gateway

import "testing"

// BenchmarkInspectChunk is the one content detector on a chat chunk and a
// Responses delta: it allocates nothing for either, and reading the
// Responses grammar costs a chat chunk no measurable time.
func BenchmarkInspectChunk(b *testing.B) {
	for name, ev := range map[string]string{
		"chat":            `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" jumps over the lazy"},"logprobs":null,"finish_reason":null}]}`,
		"responses-delta": `{"type":"response.output_text.delta","sequence_number":7,"item_id":"msg_1","output_index":0,"content_index":0,"delta":" jumps over the lazy"}`,
	} {
		data := []byte(ev)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := inspectChunk(data); !ok {
					b.Fatal("not ok")
				}
			}
		})
	}
}
