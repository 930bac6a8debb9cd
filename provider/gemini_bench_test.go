package provider

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
)

// benchConversation is an OpenAI chat request of about size bytes: a system
// prompt, then user and assistant turns with a tool call and its result.
func benchConversation(size int) []byte {
	var msgs []string
	msgs = append(msgs, `{"role":"system","content":"You are a helpful assistant. Answer briefly and cite sources."}`)
	for i := 0; ; i++ {
		msgs = append(msgs,
			fmt.Sprintf(`{"role":"user","content":"Question %d: what is the weather like in Paris today, and should I bring an umbrella?"}`, i),
			fmt.Sprintf(`{"role":"assistant","content":null,"tool_calls":[{"id":"call_%d","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\",\"unit\":\"celsius\"}"}}]}`, i),
			fmt.Sprintf(`{"role":"tool","tool_call_id":"call_%d","content":"{\"temp\":21,\"sky\":\"cloudy\",\"rain_chance\":0.4}"}`, i),
			`{"role":"assistant","content":"It is 21°C and cloudy in Paris, with a 40% chance of rain: an umbrella is a good idea."}`)
		body := `{"model":"gemini-2.5-flash","temperature":0.3,"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather by city",` +
			`"parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["city"]}}}],` +
			`"messages":[` + strings.Join(msgs, ",") + `]}`
		if len(body) >= size {
			return []byte(body)
		}
	}
}

// benchAnswer is a Gemini answer of about size bytes of text.
func benchAnswer(size int) []byte {
	text := strings.Repeat("The quick brown fox jumps over the lazy dog. ", size/45+1)[:size]
	b, _ := json.Marshal(map[string]any{
		"candidates": []any{map[string]any{"index": 0, "finishReason": "STOP",
			"content": map[string]any{"role": "model", "parts": []any{map[string]any{"text": text}}}}},
		"usageMetadata": map[string]any{"promptTokenCount": 100, "candidatesTokenCount": size / 4, "totalTokenCount": 100 + size/4},
		"modelVersion":  "gemini-2.5-flash", "responseId": "r1"})
	return b
}

var benchSizes = []struct {
	name string
	size int
}{{"1KB", 1 << 10}, {"100KB", 100 << 10}}

// OpenAI -> Gemini, a whole conversation per op.
func BenchmarkGeminiRequest(b *testing.B) {
	for _, s := range benchSizes {
		body := benchConversation(s.size)
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := geminiRequest(body, 256); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Gemini -> OpenAI, a whole answer per op.
func BenchmarkGeminiCompletion(b *testing.B) {
	for _, s := range benchSizes {
		body := benchAnswer(s.size)
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := geminiCompletion(body, &testMeta); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkJSONRoundTripAny is the floor a generic translator pays: the
// same bodies decoded into any and encoded again, translating nothing. The
// ratio of the benchmarks above to it is the figure to compare.
func BenchmarkJSONRoundTripAny(b *testing.B) {
	for _, s := range benchSizes {
		for dir, body := range map[string][]byte{"request": benchConversation(s.size), "answer": benchAnswer(s.size)} {
			b.Run(dir+"/"+s.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(body)))
				for b.Loop() {
					var v any
					if err := json.Unmarshal(body, &v); err != nil {
						b.Fatal(err)
					}
					if _, err := json.Marshal(v); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// repeatReader serves its event forever.
type repeatReader struct {
	ev  string
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.ev[r.off:])
		n += c
		r.off = (r.off + c) % len(r.ev)
	}
	return n, nil
}

// One streamed Gemini event (a few words of text) translated into its
// OpenAI chunk, per op.
func BenchmarkGeminiStreamEvent(b *testing.B) {
	ev := "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" jumps over the lazy\"}],\"role\":\"model\"},\"index\":0}]," +
		"\"usageMetadata\":{\"promptTokenCount\":12,\"totalTokenCount\":12},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}\r\n\r\n"
	s := newGeminiStream(io.NopCloser(&repeatReader{ev: ev}), testMeta)
	s.next() // the role chunk
	b.ReportAllocs()
	for b.Loop() {
		s.out, s.off = s.out[:0], 0
		s.next()
		if s.err != nil {
			b.Fatal(s.err)
		}
	}
}
