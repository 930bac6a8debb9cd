package provider

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/llmgate/gateway"
)

// Whatever the request translation accepts, it emits valid JSON in Gemini's
// format, and it never panics; what it refuses is the caller's bad
// request.
func FuzzGeminiRequest(f *testing.F) {
	for _, seed := range []string{
		`{"messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}]}`,
		`{"messages":[{"role":"assistant","tool_calls":[{"id":"a__thought__c2ln","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}}]},{"role":"tool","tool_call_id":"a__thought__c2ln","content":"{\"ok\":true}"}]}`,
		`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},{"type":"text","text":"x"}]}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"required"}`,
		`{"messages":[],"stop":["a"],"n":3,"temperature":1.5,"response_format":{"type":"json_schema","json_schema":{"schema":{}}},"reasoning_effort":"high"}`,
		`{"messages":[{"role":"tool","tool_call_id":"x","content":null}]}`,
		`{"messages":null,"tools":null,"tool_choice":{"type":"function","function":{"name":"f"}}}`,
	} {
		f.Add([]byte(seed), 0)
	}
	f.Fuzz(func(t *testing.T, body []byte, maxTokens int) {
		out, err := geminiRequest(body, maxTokens)
		if err != nil {
			if !errors.Is(err, gateway.ErrBadRequest) {
				t.Fatalf("refusal is not a bad request: %v", err)
			}
			return
		}
		var v struct {
			Contents []struct {
				Parts []json.RawMessage `json:"parts"`
			} `json:"contents"`
		}
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("invalid JSON out: %v\n%s", err, out)
		}
		for _, c := range v.Contents {
			if len(c.Parts) == 0 {
				t.Fatalf("an empty content goes upstream: %s", out)
			}
		}
	})
}

// Whatever Gemini answers, whole or streamed, the translation emits valid
// JSON chunks in OpenAI's format or an upstream error, and never panics.
func FuzzGeminiAnswer(f *testing.F) {
	for _, seed := range []string{
		`{"candidates":[{"content":{"parts":[{"text":"hi"},{"functionCall":{"name":"f","args":{"a":[1,{"b":null}]}},"thoughtSignature":"x"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":1}}`,
		`{"promptFeedback":{"blockReason":"SAFETY"}}`,
		`{"candidates":[{"content":{"parts":[{"text":"t","thought":true}]},"index":3,"finishReason":"NEW"}]}`,
		`{"error":{"code":500}}`,
		`{"candidates":null,"usageMetadata":null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := geminiCompletion(body, &testMeta)
		switch {
		case err != nil && !errors.Is(err, gateway.ErrUpstream):
			t.Fatalf("failure is not an upstream error: %v", err)
		case err == nil && !json.Valid(out):
			t.Fatalf("invalid JSON out: %s", out)
		}
		if strings.ContainsAny(string(body), "\r\n") {
			return // one SSE data line holds no line end
		}
		s := newGeminiStream(io.NopCloser(strings.NewReader("data: "+string(body)+"\n\n")), testMeta)
		raw, err := io.ReadAll(s)
		if err != nil && !errors.Is(err, gateway.ErrUpstream) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("stream failure of an unexpected kind: %v", err)
		}
		for _, ev := range strings.Split(strings.TrimSpace(string(raw)), "\n\n") {
			if ev == "" {
				continue
			}
			data, ok := strings.CutPrefix(ev, "data: ")
			if !ok || data != "[DONE]" && !json.Valid([]byte(data)) {
				t.Fatalf("invalid event: %q", ev)
			}
		}
	})
}
