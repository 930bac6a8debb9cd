package gateway_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

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

// A non-stream answer reaches the caller before the call's end-of-call work
// (the OnEnd hooks: billing, the limiter; then the observers: access log,
// metrics) runs, so that work adds nothing to the caller's latency. The
// observer below waits for the client to have read the whole body; had the
// handler held the answer until the observers returned, the client would
// still be waiting, and the observer would give up. The answer is sent with
// its Content-Length (it fits the handler's buffer, or a larger one has
// the length its upstream declared), not chunked, so the client knows it
// has all of it without the handler returning.
func TestHandlerDeliversANonStreamAnswerBeforeItsObservers(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    gateway.Provider
		path string
		body string
	}{
		{"chat", gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 3}), "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`},
		{"upstream without a length", &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
			return jsonReply(req, 200, chatReply), nil
		}}, "/v1/chat/completions", `{"model":"m","messages":[]}`},
		{"model list", gatewaytest.MustNewSim("models", gatewaytest.SimConfig{Models: []string{"m"}}), "/v1/models", ""},
		// Larger than the handler's buffer: copied as it comes, with the
		// length the upstream declared, and flushed at its end.
		{"large answer with its length", &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
			resp := jsonReply(req, 200, largeChatReply)
			resp.ContentLength = int64(len(largeChatReply))
			return resp, nil
		}}, "/v1/chat/completions", `{"model":"m","messages":[]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			delivered := make(chan struct{})
			sawDelivered := make(chan bool, 1)
			h := gateway.NewHandler(tc.p, gateway.WithObserver(func(*gateway.Call) {
				select {
				case <-delivered:
					sawDelivered <- true
				case <-time.After(5 * time.Second): // bounded: a failure, not a hang
					sawDelivered <- false
				}
			}))
			srv := httptest.NewServer(h)
			defer srv.Close()
			method := http.MethodPost
			if tc.body == "" {
				method = http.MethodGet
			}
			req, err := http.NewRequest(method, srv.URL+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			close(delivered)
			resp.Body.Close()
			require.Equal(t, 200, resp.StatusCode, "%s", body)
			assert.Equal(t, int64(len(body)), resp.ContentLength, "the answer carries its length")
			assert.Empty(t, resp.TransferEncoding, "not chunked")
			assert.True(t, <-sawDelivered, "the observer ran before the caller had its answer")
		})
	}
}

// largeChatReply is a chat answer of 100 KiB of content, three times the
// handler's copy buffer.
var largeChatReply = strings.Replace(chatReply, "Hello world", strings.Repeat("word ", 20<<10), 1)

// An upstream 204 that sends a body anyway is delivered as its status
// alone, with no header that describes a body, and the call is observed as
// the 204 the caller got: the body is not read (net/http would refuse to
// write it, and that refusal was once observed as a 499), so a body that
// fails as it is read (a connection reset after the headers) is no upstream
// error either. (A 304 is a redirect-class answer the gateway refuses, as
// any 3xx.)
func TestHandlerSendsABodilessStatusAlone(t *testing.T) {
	bodies := map[string]func() io.Reader{
		"with a body": func() io.Reader { return strings.NewReader(chatReply) },
		"with a body that fails": func() io.Reader {
			return io.MultiReader(strings.NewReader(`{"x":`), iotest.ErrReader(io.ErrUnexpectedEOF))
		},
	}
	for upstream, upBody := range bodies {
		for name, body := range map[string]string{"non-stream": `{"model":"m","messages":[]}`, "stream": `{"model":"m","stream":true,"messages":[]}`} {
			t.Run(upstream+"/"+name, func(t *testing.T) {
				p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
					resp := jsonReply(req, http.StatusNoContent, "")
					resp.Body = io.NopCloser(upBody())
					return resp, nil
				}}
				o := newObserved(t)
				srv := httptest.NewServer(gateway.NewHandler(p, gateway.WithObserver(o.observe)))
				defer srv.Close()
				resp, err := srv.Client().Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
				require.NoError(t, err)
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.NoError(t, err)
				assert.Equal(t, http.StatusNoContent, resp.StatusCode)
				assert.Empty(t, got)
				assert.Empty(t, resp.Header.Get("Content-Type"), "no header describes a body")
				observed, err := o.only().Result()
				assert.Equal(t, http.StatusNoContent, observed)
				assert.NoError(t, err)
			})
		}
	}
}

// A provider that answers a status no HTTP response can end with (a 1xx,
// which net/http would turn into an empty 200, or one outside 100..599)
// broke the RoundTripper contract: the caller gets a 502 in the OpenAI
// shape, the attempt is recorded as that failure, and the body is closed.
func TestHandlerRefusesAnInformationalOrInvalidFinalStatus(t *testing.T) {
	for _, status := range []int{http.StatusContinue, http.StatusSwitchingProtocols, http.StatusEarlyHints, 0, 600} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			body := &closeTracker{Reader: strings.NewReader(chatReply)}
			p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
				return respond(req, status, "application/json", body), nil
			}}
			o := newObserved(t)
			srv := httptest.NewServer(gateway.NewHandler(p, gateway.WithObserver(o.observe)))
			defer srv.Close()
			resp, err := srv.Client().Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m","messages":[]}`))
			require.NoError(t, err)
			var e errorJSON
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
			resp.Body.Close()
			assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
			assert.Equal(t, "upstream_error", e.Error.Code)
			assert.Contains(t, e.Error.Message, "status "+strconv.Itoa(status))
			assert.True(t, body.closed.Load(), "the provider's body is closed")
			call := o.only()
			observed, err := call.Result()
			assert.Equal(t, http.StatusBadGateway, observed)
			assert.ErrorIs(t, err, gateway.ErrUpstream)
			attempts := call.Attempts()
			require.Len(t, attempts, 1)
			assert.Equal(t, "upstream_error", attempts[0].Err)
			assert.Zero(t, attempts[0].Status)
		})
	}
}
