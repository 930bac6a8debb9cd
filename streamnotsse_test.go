package gateway_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
)

// A stream call that an upstream answers 200 with something that is no
// event stream (an HTML page from a proxy in front of it, a JSON completion
// from one that ignored "stream") fails before anything reaches the caller,
// as a stream that ends before its first content does: it moves to the next
// target, and with none left the caller gets the gateway's 502 naming what
// came, where it used to get the page as an empty stream, recorded as
// served.
func TestAStreamAnsweredWithoutAStreamFailsBeforeContent(t *testing.T) {
	html := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		return respond(req, 200, "text/html; charset=utf-8", io.NopCloser(strings.NewReader("<html>oops</html>"))), nil
	}}
	healthy := gatewaytest.MustNewSim("healthy", gatewaytest.SimConfig{Models: []string{"gpt-4o-mini"}})
	rt, err := router.New("r", []router.Target{
		{Provider: html, Weight: 1, Tier: 0},
		{Provider: healthy, Weight: 1, Tier: 1},
	}, router.Config{})
	require.NoError(t, err)
	rec := &callRecorder{}
	for mode, client := range sdkClients(t, gateway.Chain(rt, rec.middleware)) {
		t.Run(mode+"/falls over", func(t *testing.T) {
			stream := client.Chat.Completions.NewStreaming(context.Background(), chatParams(true))
			var text strings.Builder
			for stream.Next() {
				if ch := stream.Current(); len(ch.Choices) > 0 {
					text.WriteString(ch.Choices[0].Delta.Content)
				}
			}
			require.NoError(t, stream.Err())
			assert.Equal(t, healthy.ReplyText(12), text.String())
			atts := rec.last(t).Attempts()
			require.Len(t, atts, 2)
			assert.Equal(t, "fake", atts[0].Target)
			assert.Equal(t, "stream_failed_before_content", atts[0].Err)
			assert.Equal(t, "healthy", atts[1].Target)
		})
	}

	rec = &callRecorder{}
	for mode, client := range sdkClients(t, gateway.Chain(html, rec.middleware)) {
		t.Run(mode+"/none left", func(t *testing.T) {
			stream := client.Chat.Completions.NewStreaming(context.Background(), chatParams(true))
			for stream.Next() {
				t.Errorf("got a chunk: %+v", stream.Current())
			}
			var apiErr *openai.Error
			require.True(t, errors.As(stream.Err(), &apiErr), "%v", stream.Err())
			assert.Equal(t, http.StatusBadGateway, apiErr.StatusCode)
			assert.Equal(t, "stream_failed_before_content", apiErr.Code)
			assert.Contains(t, apiErr.Message, `Content-Type "text/html; charset=utf-8", not text/event-stream`, "what came instead")
			status, err := rec.last(t).Result()
			assert.Equal(t, http.StatusBadGateway, status)
			assert.Equal(t, "stream_failed_before_content", gateway.ErrorFor(err).Code)
		})
	}
}

// An event stream under another Content-Type (a Go upstream that set none
// gets net/http's sniffed text/plain) is held like any other and reaches
// the caller whole.
func TestAMislabelledEventStreamIsServed(t *testing.T) {
	mislabelled := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		body := chunk("Hello") + chunk(" world") + "data: [DONE]\n\n"
		return respond(req, 200, "text/plain; charset=utf-8", io.NopCloser(strings.NewReader(body))), nil
	}}
	for mode, client := range sdkClients(t, mislabelled) {
		t.Run(mode, func(t *testing.T) {
			stream := client.Chat.Completions.NewStreaming(context.Background(), chatParams(true))
			var text strings.Builder
			for stream.Next() {
				if ch := stream.Current(); len(ch.Choices) > 0 {
					text.WriteString(ch.Choices[0].Delta.Content)
				}
			}
			require.NoError(t, stream.Err())
			assert.Equal(t, "Hello world", text.String())
		})
	}
}

// "stream": true on an operation that does not stream (embeddings, a token
// count) asks for nothing: the JSON answer is served and metered as the
// answer it is, where it used to be held as a stream, fail, and be retried
// on every target.
func TestAStreamFieldOnAnOpThatDoesNotStreamIsNoStream(t *testing.T) {
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Models: []string{"m"}})
	rec := &callRecorder{}
	h := gateway.NewHandler(gateway.Chain(sim, rec.middleware))
	before := int64(0)
	for _, tc := range []struct{ path, body string }{
		{"/v1/embeddings", `{"model":"m","input":"hi","stream":true}`},
		{"/v1/messages/count_tokens", `{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(tc.body)))
		assert.Equal(t, http.StatusOK, w.Code, "%s: %s", tc.path, w.Body)
		c := rec.last(t)
		assert.False(t, c.Stream, tc.path)
		assert.Len(t, c.Attempts(), 1, tc.path)
		assert.Equal(t, before+1, sim.Requests(), "%s: one upstream request", tc.path)
		before = sim.Requests()
	}
	u, ok := rec.calls[0].Usage()
	require.True(t, ok)
	assert.False(t, u.Estimated, "the embedding's usage is read from its answer")
}

// A stream call answered 200 with an upstream's error object (some
// upstreams report a refusal so), or whose first event is an error event,
// fails before its first content saying so, without the upstream's words,
// which may name its account.
func TestAStreamAnsweredWithAnErrorSaysSo(t *testing.T) {
	for name, tc := range map[string]struct {
		answer func(req *http.Request) *http.Response
		want   string
	}{
		"error object": {func(req *http.Request) *http.Response {
			return jsonReply(req, 200, `{"error":{"message":"Rate limit reached for org-Zx81kQ","type":"requests","code":"rate_limit_exceeded"}}`)
		}, `gateway: stream failed before its first content: the upstream sent an error object (the upstream answered with Content-Type "application/json", not text/event-stream)`},
		"error event": {func(req *http.Request) *http.Response {
			return sseReply(req, io.NopCloser(strings.NewReader(`data: {"error":{"message":"overloaded, org-Zx81kQ","type":"server_error"}}`+"\n\n")))
		}, "gateway: stream failed before its first content: the upstream sent an error event"},
	} {
		p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) { return tc.answer(req), nil }}
		for mode, client := range sdkClients(t, p) {
			t.Run(name+"/"+mode, func(t *testing.T) {
				stream := client.Chat.Completions.NewStreaming(context.Background(), chatParams(true))
				for stream.Next() {
					t.Errorf("got a chunk: %+v", stream.Current())
				}
				apiErr := requireBadGateway(t, stream.Err())
				assert.Equal(t, "stream_failed_before_content", apiErr.Code)
				assert.Equal(t, tc.want, apiErr.Message)
				assert.NotContains(t, apiErr.Message, "org-")
			})
		}
	}
}
