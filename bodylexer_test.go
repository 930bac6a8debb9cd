package gateway

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// completionBody is a non-streaming answer of the usual shape: one long
// content string among many short ones, then the usage.
var completionBody = []byte(`{"id":"chatcmpl-0001","object":"chat.completion","created":1763856000,"model":"gpt-4o-mini-2024-07-18",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"` + strings.Repeat("A gateway sits between applications and providers. ", 16) +
	`","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],` +
	`"usage":{"prompt_tokens":56,"completion_tokens":148,"total_tokens":204,"prompt_tokens_details":{"cached_tokens":3,"audio_tokens":0},` +
	`"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},` +
	`"service_tier":"default","system_fingerprint":"fp_01"}`)

// Each string's end is found by scanning that string only, with a
// backslash anywhere in it or none at all.
func TestBodyLexerStringsWithAndWithoutEscapes(t *testing.T) {
	for _, body := range []string{
		`{"choices":[{"message":{"content":"plain"}}],"usage":{"prompt_tokens":1,"completion_tokens":2}}`,
		`{"choices":[{"message":{"content":"a \"quoted\" \\ word"}}],"usage":{"prompt_tokens":1,"completion_tokens":2}}`,
		`{"x":"\\","choices":[{"message":{"content":"é"}}],"y":"\"","usage":{"prompt_tokens":1,"completion_tokens":2}}`,
	} {
		var l bodyLexer
		l.feed([]byte(body))
		l.finish()
		assert.True(t, l.sawUsage, body)
		assert.Equal(t, Usage{PromptTokens: 1, CompletionTokens: 2}, l.usage, body)
	}
}

// BenchmarkBodyLexer measures reading the usage of a 1.3 KB answer as it
// streams past, as the usage tap does for every non-streaming call.
func BenchmarkBodyLexer(b *testing.B) {
	b.SetBytes(int64(len(completionBody)))
	b.ReportAllocs()
	for b.Loop() {
		var l bodyLexer
		l.feed(completionBody)
		l.finish()
		if !l.sawUsage {
			b.Fatal("no usage")
		}
	}
}

func TestCountNonASCII(t *testing.T) {
	for _, s := range []string{"", "a", "é", "plain ascii text, longer than eight bytes", "日本語のテキスト and ascii", strings.Repeat("ü", 9) + "x",
		strings.Repeat("ascii ", 20), strings.Repeat("a", 31) + "é" + strings.Repeat("b", 40) + "ü", strings.Repeat("日本", 30)} {
		want := 0
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				want++
			}
		}
		assert.Equal(t, want, countNonASCII([]byte(s)), s)
	}
}
