package provider

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/sse"
)

var testMeta = answerMeta{callID: "call_0123", created: 1700000000, model: "gemini-2.5-flash"}

// Recorded Gemini answers and the OpenAI answers they must become.
func TestGeminiCompletionTranslation(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"text; usage with cache and thoughts inside OpenAI's totals",
			`{"candidates":[{"content":{"parts":[{"text":"Hello "},{"text":"there"}],"role":"model"},"finishReason":"STOP","index":0}],
			  "usageMetadata":{"promptTokenCount":100,"candidatesTokenCount":20,"totalTokenCount":158,"cachedContentTokenCount":64,"thoughtsTokenCount":30,"toolUsePromptTokenCount":8},
			  "modelVersion":"gemini-2.5-flash-001","responseId":"abc"}`,
			`{"id":"chatcmpl-abc","object":"chat.completion","created":1700000000,"model":"gemini-2.5-flash-001",
			  "choices":[{"index":0,"message":{"role":"assistant","content":"Hello there","refusal":null},"logprobs":null,"finish_reason":"stop"}],
			  "usage":{"prompt_tokens":108,"completion_tokens":50,"total_tokens":158,"prompt_tokens_details":{"cached_tokens":64},"completion_tokens_details":{"reasoning_tokens":30}}}`},
		{"MAX_TOKENS is length; thoughts are reasoning_content; no usage, no usage field",
			`{"candidates":[{"content":{"parts":[{"text":"Let me think","thought":true},{"text":"The answ"}],"role":"model"},"finishReason":"MAX_TOKENS","index":0}]}`,
			`{"id":"chatcmpl-call_0123","object":"chat.completion","created":1700000000,"model":"gemini-2.5-flash",
			  "choices":[{"index":0,"message":{"role":"assistant","content":"The answ","refusal":null,"reasoning_content":"Let me think"},"logprobs":null,"finish_reason":"length"}]}`},
		{"function calls: tool_calls with string arguments, Gemini's id kept, a signature carried, ids minted",
			`{"candidates":[{"content":{"parts":[{"functionCall":{"name":"weather","args":{"city": "Paris"}},"thoughtSignature":"c2ln"},
			  {"functionCall":{"id":"fc-9","name":"time"}}],"role":"model"},"finishReason":"STOP","index":0}]}`,
			`{"id":"chatcmpl-call_0123","object":"chat.completion","created":1700000000,"model":"gemini-2.5-flash",
			  "choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":null,"tool_calls":[
			    {"id":"call_0123_0__thought__c2ln","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},
			    {"id":"fc-9","type":"function","function":{"name":"time","arguments":"{}"}}]},"logprobs":null,"finish_reason":"tool_calls"}]}`},
		{"a blocked prompt is an empty content_filter answer",
			`{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":9,"totalTokenCount":9}}`,
			`{"id":"chatcmpl-call_0123","object":"chat.completion","created":1700000000,"model":"gemini-2.5-flash",
			  "choices":[{"index":0,"message":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":"content_filter"}],
			  "usage":{"prompt_tokens":9,"completion_tokens":0,"total_tokens":9,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}`},
		{"an image the model made is an image_url part in images",
			`{"candidates":[{"content":{"parts":[{"text":"Here:"},{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}}]},"finishReason":"STOP","index":0}]}`,
			`{"id":"chatcmpl-call_0123","object":"chat.completion","created":1700000000,"model":"gemini-2.5-flash",
			  "choices":[{"index":0,"message":{"role":"assistant","content":"Here:","refusal":null,
			    "images":[{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]},"logprobs":null,"finish_reason":"stop"}]}`},
		{"several candidates are several choices",
			`{"candidates":[{"content":{"parts":[{"text":"A"}]},"finishReason":"STOP","index":0},{"content":{"parts":[{"text":"B"}]},"finishReason":"RECITATION","index":1}]}`,
			`{"id":"chatcmpl-call_0123","object":"chat.completion","created":1700000000,"model":"gemini-2.5-flash",
			  "choices":[{"index":0,"message":{"role":"assistant","content":"A","refusal":null},"logprobs":null,"finish_reason":"stop"},
			             {"index":1,"message":{"role":"assistant","content":"B","refusal":null},"logprobs":null,"finish_reason":"content_filter"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := geminiCompletion([]byte(tt.in), &testMeta)
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(got))
		})
	}
	_, err := geminiCompletion([]byte(`<html>`), &testMeta)
	assert.ErrorIs(t, err, gateway.ErrUpstream)
}

func TestGeminiFinishReasons(t *testing.T) {
	for reason, want := range map[string]string{
		"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter", "RECITATION": "content_filter",
		"BLOCKLIST": "content_filter", "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
		"IMAGE_SAFETY": "content_filter", "LANGUAGE": "content_filter", "OTHER": "stop",
		"MALFORMED_FUNCTION_CALL": "stop", "FINISH_REASON_UNSPECIFIED": "stop", "A_REASON_FROM_2027": "stop", "": "stop",
	} {
		assert.Equal(t, want, finishReason(reason, false), reason)
	}
	assert.Equal(t, "tool_calls", finishReason("STOP", true))
	assert.Equal(t, "length", finishReason("MAX_TOKENS", true), "a cut call is a cut answer")
	assert.Equal(t, "tool_calls", finishReason("A_REASON_FROM_2027", true))
}

// geminiSSE is a recorded streamGenerateContent?alt=sse body: CRLF line
// ends, no [DONE], cumulative usageMetadata, a thought, text, a function
// call, then the finish.
const geminiSSE = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Planning\",\"thought\":true}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":12,\"totalTokenCount\":12},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}\r\n\r\n" +
	"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hello\"}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":12,\"totalTokenCount\":12},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}\r\n\r\n" +
	"data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\",\"args\":{\"x\":1}},\"thoughtSignature\":\"c2ln\"},{\"functionCall\":{\"name\":\"g\",\"args\":{}}}],\"role\":\"model\"},\"index\":0}],\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}\r\n\r\n" +
	"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\"}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":12,\"candidatesTokenCount\":6,\"thoughtsTokenCount\":3,\"cachedContentTokenCount\":4,\"totalTokenCount\":21},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}\r\n\r\n"

const chunkHead = `{"id":"chatcmpl-r1","object":"chat.completion.chunk","created":1700000000,"model":"gemini-2.5-flash",`

var geminiSSEWant = []string{
	chunkHead + `"choices":[{"index":0,"delta":{"role":"assistant","content":"","reasoning_content":"Planning"},"finish_reason":null}]}`,
	chunkHead + `"choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}`,
	chunkHead + `"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_0123_0__thought__c2ln","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}},` +
		`{"index":1,"id":"call_0123_1","type":"function","function":{"name":"g","arguments":"{}"}}]},"finish_reason":null}]}`,
	chunkHead + `"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
	chunkHead + `"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":3}}}`,
	"[DONE]",
}

// readEvents reads every event of an OpenAI stream and the error it ends
// with (nil at a clean end).
func readEvents(t *testing.T, r io.Reader) ([]string, error) {
	t.Helper()
	sr := sse.NewReader(r, 0)
	var evs []string
	for range 1000 {
		ev, err := sr.Next()
		if err == io.EOF {
			return evs, nil
		}
		if err != nil {
			return evs, err
		}
		evs = append(evs, string(ev.Data))
	}
	t.Fatal("too many events")
	return nil, nil
}

func TestGeminiStreamTranslation(t *testing.T) {
	for name, wrap := range map[string]func(io.Reader) io.Reader{
		"whole": func(r io.Reader) io.Reader { return r }, "a byte at a time": iotest.OneByteReader} {
		t.Run(name, func(t *testing.T) {
			s := newGeminiStream(io.NopCloser(wrap(strings.NewReader(geminiSSE))), testMeta)
			evs, err := readEvents(t, s)
			require.NoError(t, err)
			require.Len(t, evs, len(geminiSSEWant))
			for i := range evs {
				if evs[i] == "[DONE]" {
					assert.Equal(t, geminiSSEWant[i], evs[i])
					continue
				}
				assert.JSONEq(t, geminiSSEWant[i], evs[i], "event %d", i)
			}
		})
	}
}

// A stream that ends before Gemini's finishReason was cut: the caller's
// read fails and no [DONE] is made up; an error event after the 200 is an
// upstream error. Both before and after content.
func TestGeminiStreamCutIsAnErrorNeverACompletion(t *testing.T) {
	events := strings.SplitAfter(geminiSSE, "\r\n\r\n")
	for _, n := range []int{0, 1, 2, 3} {
		s := newGeminiStream(io.NopCloser(strings.NewReader(strings.Join(events[:n], ""))), testMeta)
		evs, err := readEvents(t, s)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "cut after %d events", n)
		assert.NotContains(t, evs, "[DONE]")
		for _, ev := range evs {
			assert.NotContains(t, ev, `"finish_reason":"`, "no made-up finish")
		}
	}
	// A cut inside an event.
	s := newGeminiStream(io.NopCloser(strings.NewReader(geminiSSE[:len(events[0])+40])), testMeta)
	_, err := readEvents(t, s)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)

	errEvent := "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":\"UNAVAILABLE\"}}\r\n\r\n"
	s = newGeminiStream(io.NopCloser(strings.NewReader(events[0]+events[1]+errEvent)), testMeta)
	evs, err := readEvents(t, s)
	assert.ErrorIs(t, err, gateway.ErrUpstream)
	assert.Len(t, evs, 2)
	assert.NotContains(t, evs, "[DONE]")
}

// A blocked prompt in a stream is one content_filter finish, then [DONE].
func TestGeminiStreamBlockedPrompt(t *testing.T) {
	body := "data: {\"promptFeedback\":{\"blockReason\":\"PROHIBITED_CONTENT\"},\"usageMetadata\":{\"promptTokenCount\":5,\"totalTokenCount\":5}}\r\n\r\n"
	evs, err := readEvents(t, newGeminiStream(io.NopCloser(strings.NewReader(body)), testMeta))
	require.NoError(t, err)
	require.Len(t, evs, 3)
	assert.Contains(t, evs[0], `"finish_reason":"content_filter"`)
	assert.Contains(t, evs[1], `"prompt_tokens":5`)
	assert.Equal(t, "[DONE]", evs[2])
}

// Every translated event is one line of valid JSON: the SSE framing holds.
func TestGeminiStreamEventsAreValidJSON(t *testing.T) {
	var buf bytes.Buffer
	_, err := io.Copy(&buf, newGeminiStream(io.NopCloser(strings.NewReader(geminiSSE)), testMeta))
	require.NoError(t, err)
	for _, ev := range strings.Split(strings.TrimSpace(buf.String()), "\n\n") {
		data, ok := strings.CutPrefix(ev, "data: ")
		require.True(t, ok, ev)
		assert.True(t, data == "[DONE]" || json.Valid([]byte(data)), data)
	}
}
