package gateway

import (
	"encoding/json"
	"strings"
	"testing"
)

// benchChatBody returns a chat request of about size bytes.
func benchChatBody(size int) []byte {
	const head = `{"model":"gpt-4o-mini","max_tokens":16,"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"`
	const tail = `"}],"temperature":0.2}`
	return []byte(head + strings.Repeat("lorem ipsum ", (size-len(head)-len(tail))/12) + tail)
}

// chatRequest is the request decoded in full, as a proxy that unmarshals
// the body to read its model would do.
type chatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	MaxTokens     *int     `json:"max_tokens"`
	Stream        bool     `json:"stream"`
	Temperature   *float64 `json:"temperature"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// BenchmarkParseCall compares the entry point's parser with decoding the body into structs.
func BenchmarkParseCall(b *testing.B) {
	for _, sz := range []struct {
		name string
		size int
	}{{"1KB", 1 << 10}, {"100KB", 100 << 10}} {
		body := benchChatBody(sz.size)
		b.Run(sz.name+"/parseCall", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := parseCall(OpChat, body, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(sz.name+"/json.Unmarshal", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				var r chatRequest
				if err := json.Unmarshal(body, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
