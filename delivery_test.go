package gateway_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// goneWriter is the ResponseWriter of a caller that left after the status
// line: every write of the body fails, as on a closed connection, or, when
// buffered, writes succeed (into net/http's buffer) and flushes fail.
type goneWriter struct {
	h        http.Header
	status   int
	buffered bool
}

func (w *goneWriter) Header() http.Header    { return w.h }
func (w *goneWriter) WriteHeader(status int) { w.status = status }
func (w *goneWriter) Write(p []byte) (int, error) {
	if w.buffered {
		return len(p), nil
	}
	return 0, syscall.EPIPE
}
func (w *goneWriter) FlushError() error { return syscall.EPIPE }

// A caller that left before its response was delivered is observed as a
// 499, even when the whole upstream answer was read before the handler
// tried to write it: a fast stream whose [DONE] came in the first read, or
// a non-stream body whose last read returns its data with io.EOF (as
// net/http's bodies do). The handler, not the read of the upstream, knows
// whether the caller got the answer.
func TestHandlerCallerGoneBeforeDeliveryIs499(t *testing.T) {
	fast := gatewaytest.MustNewSim("fast", gatewaytest.SimConfig{CompletionTokens: 2})
	dataWithEOF := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		return respond(req, 200, "application/json", io.NopCloser(iotest.DataErrReader(strings.NewReader(chatReply)))), nil
	}}
	models := gatewaytest.MustNewSim("models", gatewaytest.SimConfig{Models: []string{"m"}})
	for _, tc := range []struct {
		name, method, path, body string
		p                        gateway.Provider
		buffered                 bool
	}{
		{"fast stream", "POST", "/v1/chat/completions", `{"model":"m","stream":true,"messages":[]}`, fast, false},
		{"fast stream, flush fails", "POST", "/v1/chat/completions", `{"model":"m","stream":true,"messages":[]}`, fast, true},
		{"non-stream read with EOF", "POST", "/v1/chat/completions", `{"model":"m","messages":[]}`, dataWithEOF, false},
		{"sim non-stream", "POST", "/v1/chat/completions", `{"model":"m","messages":[]}`, fast, false},
		{"model list", "GET", "/v1/models", "", models, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newObserved(t)
			h := gateway.NewHandler(tc.p, gateway.WithObserver(o.observe))
			w := &goneWriter{h: http.Header{}, buffered: tc.buffered}
			h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
			require.Equal(t, 200, w.status)
			status, err := o.only().Result()
			assert.Equal(t, 499, status)
			assert.True(t, errors.Is(err, gateway.ErrClientClosed), "%v", err)
		})
	}
}
