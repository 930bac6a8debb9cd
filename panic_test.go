package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

// A layer below the entry point that panics (a provider's bug) still ends
// the call: its OnEnd hooks (the Meter's record, the limiter's release) and
// its observers run, with a 500, and the panic goes on to net/http, which
// reports it. A call left open would hold them forever.
func TestAPanicInTheChainEndsTheCall(t *testing.T) {
	p := &fakeProvider{handle: func(*http.Request) (*http.Response, error) { panic("provider bug") }}
	o := newObserved(t)
	srv := httptest.NewUnstartedServer(gateway.NewHandler(p, gateway.WithObserver(o.observe)))
	srv.Config.ErrorLog = quietLog()
	srv.Start()
	defer srv.Close()
	_, err := srv.Client().Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m","messages":[]}`))
	require.Error(t, err, "net/http aborts the response of a handler that panicked")
	status, cerr := o.only().Result()
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.ErrorIs(t, cerr, gateway.ErrInternal)
}

// panickyBody is an upstream body whose Read panics once it has given
// some bytes, first (a provider's or a middleware's body wrapper with a
// bug).
type panickyBody struct {
	first string
	given bool
}

func (b *panickyBody) Read(p []byte) (int, error) {
	if !b.given {
		b.given = true
		return copy(p, b.first), nil
	}
	panic("body bug")
}

func (b *panickyBody) Close() error { return nil }

// A panic while the handler copies the answer (a body's Read) ends the
// call as failed, not as complete: its observers see ErrInternal, and the
// panic goes on to net/http, which aborts the response. The status is the
// one the caller got: a stream's 200, sent with its first event; none for
// a non-stream answer, read whole before its status line (the error's 500).
func TestAPanicWhileCopyingTheAnswerFailsTheCall(t *testing.T) {
	for name, stream := range map[string]bool{"non-stream": false, "stream": true} {
		t.Run(name, func(t *testing.T) {
			p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
				resp := jsonReply(req, http.StatusOK, "")
				if stream {
					resp.Header.Set("Content-Type", "text/event-stream")
				}
				resp.Body = &panickyBody{first: `{"choices":[{"message":{"content":"hi"}}]}`}
				if stream {
					resp.Body = &panickyBody{first: "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n"}
				}
				return resp, nil
			}}
			o := newObserved(t)
			srv := httptest.NewUnstartedServer(gateway.NewHandler(p, gateway.WithObserver(o.observe)))
			srv.Config.ErrorLog = quietLog()
			srv.Start()
			defer srv.Close()
			body := `{"model":"m","messages":[]}`
			if stream {
				body = `{"model":"m","stream":true,"messages":[]}`
			}
			resp, err := srv.Client().Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			require.Error(t, err, "net/http aborts the response of a handler that panicked")
			status, cerr := o.only().Result()
			if stream {
				assert.Equal(t, http.StatusOK, status)
			} else {
				assert.Equal(t, http.StatusInternalServerError, status)
			}
			assert.ErrorIs(t, cerr, gateway.ErrInternal)
		})
	}
}
