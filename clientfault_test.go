package gateway_test

import (
	"bufio"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

// A request body the client cut short, framed badly or sent too slowly is
// the client's fault: 400 or 408, observed as such, and never dispatched, so
// no target is blamed. They were answered 502 upstream_error.
func TestHandlerBlamesTheClientForABrokenRequestBody(t *testing.T) {
	const head = "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
	tests := []struct {
		name        string
		readTimeout time.Duration // the server's ReadTimeout; 0 for none
		raw         string
		halfClose   bool // the client closes its side after raw
		status      int
		code        string
	}{
		{"truncated", 0, head + "Content-Length: 100\r\n\r\n" + `{"model":"m",`, true, 400, "invalid_request"},
		{"bad chunked encoding", 0, head + "Transfer-Encoding: chunked\r\n\r\nzz\r\n" + `{"model":"m"}` + "\r\n0\r\n\r\n", false, 400, "invalid_request"},
		// The body never completes: the server's read deadline ends it. The
		// deadline is short so that the test is quick; the status, not the
		// time, decides the test.
		{"read timeout", 200 * time.Millisecond, head + "Content-Length: 100\r\n\r\n" + `{"model":"m",`, false, 408, "request_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := okProvider()
			o := newObserved(t)
			srv := httptest.NewUnstartedServer(gateway.NewHandler(p, gateway.WithObserver(o.observe)))
			srv.Config.ReadTimeout = tt.readTimeout
			srv.Config.ErrorLog = quietLog()
			srv.Start()
			defer srv.Close()

			c := rawDial(t, srv.Listener.Addr().String())
			_, err := io.WriteString(c, tt.raw)
			require.NoError(t, err)
			if tt.halfClose {
				require.NoError(t, c.CloseWrite())
			}
			resp, body := rawResponse(t, bufio.NewReader(c), "POST")
			assertOpenAIError(t, resp, body, tt.status, tt.code)
			assert.NotContains(t, strings.ToLower(string(body)), "upstream")

			c.Close()
			srv.Close() // waits for the handler to return
			assert.Zero(t, p.calls.Load(), "refused before dispatch: no target is blamed")
			status, cerr := o.only().Result()
			assert.Equal(t, tt.status, status)
			var ge *gateway.Error
			require.True(t, errors.As(cerr, &ge), "Result error %v", cerr)
			assert.Equal(t, tt.code, ge.Code)
			assert.False(t, errors.Is(cerr, gateway.ErrUpstream))
		})
	}
}
