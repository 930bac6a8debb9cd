package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

// Anthropic stream events, as the Messages API sends them.
func msgEvent(name, data string) string { return "event: " + name + "\ndata: " + data + "\n\n" }

var (
	msgStart = msgEvent("message_start", `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"c","content":[],"stop_reason":null,"usage":{"input_tokens":10,"cache_read_input_tokens":100,"cache_creation_input_tokens":20,"cache_creation":{"ephemeral_5m_input_tokens":15,"ephemeral_1h_input_tokens":5},"output_tokens":1}}}`)
	msgBlock = msgEvent("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
	msgText  = msgEvent("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}`)
	msgDelta = msgEvent("message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":42}}`)
	msgStop  = msgEvent("message_stop", `{"type":"message_stop"}`)
	msgBody  = `{"model":"claude-x","max_tokens":64,"system":"Be brief.","messages":[{"role":"user","content":"Say hello"}],"tools":[{"name":"f","input_schema":{"type":"object"}}]}`
)

func postMessages(t *testing.T, h http.Handler, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	r.Header.Set("X-Api-Key", "caller-key")
	h.ServeHTTP(w, r)
	return w
}

type anthropicErr struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// TestMessagesParsesTheCallOnce: the front door reads the Anthropic body
// into the Call (model, stream, max_tokens, an estimate over system,
// messages and tools) and sends it on untouched: no stream_options, which
// Anthropic refuses.
func TestMessagesParsesTheCallOnce(t *testing.T) {
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		return sseReply(req, io.NopCloser(strings.NewReader(msgStart+msgBlock+msgText+msgDelta+msgStop))), nil
	}}
	body := strings.Replace(msgBody, `"max_tokens":64`, `"max_tokens":64,"stream":true`, 1)
	w := postMessages(t, gateway.NewHandler(p), "/v1/messages", body)
	require.Equal(t, 200, w.Code, w.Body.String())
	req, c, sent := p.seen()
	assert.Equal(t, gateway.OpMessages, c.Op)
	assert.Equal(t, "claude-x", c.Model)
	assert.True(t, c.Stream)
	assert.Equal(t, 64, c.MaxTokens)
	assert.Positive(t, c.PromptTokens)
	assert.Equal(t, body, sent, "the body passes natively")
	assert.Equal(t, "caller-key", req.Header.Get("X-Api-Key"), "reaches the chain (auth reads it); providers never send it on")
	assert.Equal(t, msgStart+msgBlock+msgText+msgDelta+msgStop, w.Body.String(), "the stream passes as it came")
}

// TestMessagesUsageFromStartAndDelta: Anthropic's input_tokens leave the
// cache out; final output may come only in message_delta.
func TestMessagesUsageFromStartAndDelta(t *testing.T) {
	want := gateway.Usage{PromptTokens: 130, CompletionTokens: 42, CachedTokens: 100, CacheWriteTokens: 20, CacheWrite1hTokens: 5}
	for _, stream := range []bool{true, false} {
		p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
			if stream {
				return sseReply(req, io.NopCloser(strings.NewReader(msgStart+msgBlock+msgText+msgDelta+msgStop))), nil
			}
			return jsonReply(req, 200, `{"id":"msg_1","type":"message","role":"assistant","model":"c","content":[{"type":"text","text":"Hello"}],"stop_reason":"end_turn",
				"usage":{"input_tokens":10,"cache_read_input_tokens":100,"cache_creation_input_tokens":20,"cache_creation":{"ephemeral_5m_input_tokens":15,"ephemeral_1h_input_tokens":5},"output_tokens":42}}`), nil
		}}
		var got *gateway.Call
		h := gateway.NewHandler(p, gateway.WithObserver(func(c *gateway.Call) { got = c }))
		body := msgBody
		if stream {
			body = strings.Replace(msgBody, `"max_tokens":64`, `"max_tokens":64,"stream":true`, 1)
		}
		w := postMessages(t, h, "/v1/messages", body)
		require.Equal(t, 200, w.Code)
		require.NotNil(t, got)
		u, ok := got.Usage()
		require.True(t, ok)
		assert.Equal(t, want, u, "stream %v", stream)
	}
}

func TestMessagesCountTokensCostsNothing(t *testing.T) {
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		return jsonReply(req, 200, `{"input_tokens":17}`), nil
	}}
	var got *gateway.Call
	w := postMessages(t, gateway.NewHandler(p, gateway.WithObserver(func(c *gateway.Call) { got = c })),
		"/v1/messages/count_tokens", `{"model":"c","messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, 200, w.Code)
	assert.Equal(t, gateway.OpCountTokens, got.Op)
	u, _ := got.Usage()
	assert.Equal(t, gateway.Usage{}, u, "not billed, not estimated")
}

// TestMessagesErrorsInAnthropicShape: the gateway's own errors on this path
// are Anthropic's shape, with the same status, code header and Retry-After,
// in server and client mode.
func TestMessagesErrorsInAnthropicShape(t *testing.T) {
	busy := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		return nil, gateway.ErrNoHealthyProvider.WithRetryAfter(3e9)
	}}
	for _, tc := range []struct {
		name, body, typ, code string
		p                     gateway.Provider
		status                int
	}{
		{"malformed JSON", `{"model":`, "invalid_request_error", "invalid_request", okProvider(), 400},
		{"missing model", `{"max_tokens":5,"messages":[]}`, "invalid_request_error", "invalid_request", okProvider(), 400},
		// Anthropic requires max_tokens on a Messages call: refused here,
		// in its words, never sent (it was passed on to the upstream).
		{"missing max_tokens", `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}`, "invalid_request_error", "invalid_request", okProvider(), 400},
		{"no healthy provider", msgBody, "api_error", "no_healthy_provider", busy, 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := postMessages(t, gateway.NewHandler(tc.p), "/v1/messages", tc.body)
			assert.Equal(t, tc.status, w.Code)
			var e anthropicErr
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e), w.Body.String())
			assert.Equal(t, "error", e.Type)
			assert.Equal(t, tc.typ, e.Error.Type)
			assert.NotEmpty(t, e.Error.Message)
			assert.Equal(t, tc.code, w.Header().Get("X-Llmgate-Error"))
			if tc.status == 503 {
				assert.Equal(t, "3", w.Header().Get("Retry-After"))
			}

			resp, err := gateway.NewClient(tc.p).Post("http://gateway.invalid/v1/messages", "application/json", strings.NewReader(tc.body))
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, tc.status, resp.StatusCode)
			b, _ := io.ReadAll(resp.Body)
			require.NoError(t, json.Unmarshal(b, &e), string(b))
			assert.Equal(t, tc.typ, e.Error.Type)
			assert.NotNil(t, gateway.ErrorFromResponse(resp), "the gateway's own, as on every path")
		})
	}
	w := postMessages(t, gateway.NewHandler(okProvider()), "/v1/chat/completions", `{"model":`)
	assert.Contains(t, w.Body.String(), `{"error":{"message"`, "the OpenAI paths keep OpenAI's shape")
}

// TestMessagesStreamHeldUntilContent: an error event before any content
// fails the attempt (so it may fail over), and one after content ends the
// caller's stream with an Anthropic error event.
func TestMessagesStreamHeldUntilContent(t *testing.T) {
	errEv := msgEvent("error", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
	body := strings.Replace(msgBody, `"max_tokens":64`, `"max_tokens":64,"stream":true`, 1)

	early := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		return sseReply(req, io.NopCloser(strings.NewReader(msgStart+msgBlock+errEv))), nil
	}}
	w := postMessages(t, gateway.NewHandler(early), "/v1/messages", body)
	assert.Equal(t, 502, w.Code)
	assert.Equal(t, "stream_failed_before_content", w.Header().Get("X-Llmgate-Error"))
	var e anthropicErr
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e))
	assert.Equal(t, "api_error", e.Error.Type)

	late := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		return sseReply(req, io.NopCloser(io.MultiReader(strings.NewReader(msgStart+msgBlock+msgText), errReader{io.ErrUnexpectedEOF}))), nil
	}}
	w = postMessages(t, gateway.NewHandler(late), "/v1/messages", body)
	assert.Equal(t, 200, w.Code)
	out := w.Body.String()
	assert.True(t, strings.HasPrefix(out, msgStart+msgBlock+msgText), out)
	assert.True(t, strings.HasSuffix(out, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"gateway: upstream failed\"}}\n\n"), out)
	assert.NotContains(t, out, "message_stop")
}
