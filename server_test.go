package gateway_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

// serve starts s on a 127.0.0.1 listener and returns its address; the server
// is shut down, and Serve has returned, when the test ends (after the
// test's connections are closed).
func serve(t *testing.T, s *gateway.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.ErrorLog = quietLog()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		// Shutdown waits for every connection to close, net/http's goroutine
		// that waits before closing one it refused (431) included.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, s.Shutdown(ctx))
		assert.ErrorIs(t, <-done, http.ErrServerClosed)
	})
	return ln.Addr().String()
}

func TestNewServerSetsTimeouts(t *testing.T) {
	s := gateway.NewServer("127.0.0.1:0", http.NotFoundHandler())
	assert.Positive(t, s.ReadHeaderTimeout)
	assert.Positive(t, s.ReadTimeout)
	assert.Positive(t, s.IdleTimeout)
	assert.Zero(t, s.WriteTimeout, "a server-wide write timeout would cut long streams")
}

// net/http answers a request it cannot parse itself, before any handler
// runs, in text/plain. NewServer's servers answer each in the OpenAI shape,
// with the same status.
func TestServerAnswersNetHTTPsOwnErrorsInTheOpenAIShape(t *testing.T) {
	addr := serve(t, gateway.NewServer("", gateway.NewHandler(okProvider())))
	tests := []struct {
		name, raw string
		status    int
		code      string
	}{
		{"malformed request line", "NONSENSE\r\n\r\n", 400, "invalid_request"},
		{"missing Host", "GET /v1/models HTTP/1.1\r\n\r\n", 400, "invalid_request"},
		{"invalid header name", "GET /v1/models HTTP/1.1\r\nHost: gw\r\nBad Name: x\r\n\r\n", 400, "invalid_request"},
		{"headers too large", "GET /v1/models HTTP/1.1\r\nHost: gw\r\nX-Big: " + strings.Repeat("a", 80<<10) + "\r\n\r\n", 431, "request_header_too_large"},
		{"unsupported transfer encoding", "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "unsupported_transfer_encoding"},
		{"unsupported HTTP version", "GET /v1/models HTTP/3.0\r\nHost: gw\r\n\r\n", 505, "http_version_not_supported"},
		{"unsupported expectation", "GET /v1/models HTTP/1.1\r\nHost: gw\r\nExpect: telepathy\r\n\r\n", 417, "expectation_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := rawDial(t, addr)
			_, err := io.WriteString(c, tt.raw)
			require.NoError(t, err)
			br := bufio.NewReader(c)
			resp, body := rawResponse(t, br, "")
			assertOpenAIError(t, resp, body, tt.status, tt.code)
			assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
			// net/http closes the connection after each (once it has
			// waited, for 431): nothing else follows, and its goroutine ends.
			rest, _ := io.ReadAll(br)
			assert.Empty(t, rest)
		})
	}
}

// HEAD on a GET route is answered like GET without a body; it was a 405.
func TestServerAnswersHeadOnModelsLikeGet(t *testing.T) {
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		return jsonReply(req, 200, `{"object":"list","data":[{"id":"m","object":"model"}]}`), nil
	}}
	addr := serve(t, gateway.NewServer("", gateway.NewHandler(p)))
	c := rawDial(t, addr)
	br := bufio.NewReader(c)
	// HEAD then GET on one connection: a body sent after HEAD's headers
	// would be read as the GET's status line.
	_, err := io.WriteString(c, "HEAD /v1/models HTTP/1.1\r\nHost: gw\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: gw\r\n\r\n")
	require.NoError(t, err)
	head, body := rawResponse(t, br, "HEAD")
	assert.Equal(t, 200, head.StatusCode)
	assert.Empty(t, body)
	assert.Equal(t, "application/json", head.Header.Get("Content-Type"))
	get, body := rawResponse(t, br, "GET")
	assert.Equal(t, 200, get.StatusCode)
	assert.Contains(t, string(body), `"id":"m"`)
	req, _, _ := p.seen()
	assert.Equal(t, "GET", req.Method, "the provider is asked for its models as for GET")

	_, err = io.WriteString(c, "HEAD /v1/chat/completions HTTP/1.1\r\nHost: gw\r\n\r\n")
	require.NoError(t, err)
	resp, _ := rawResponse(t, br, "HEAD")
	assert.Equal(t, 405, resp.StatusCode, "HEAD is GET without a body; a POST route takes neither")
}

// A connection over MaxConns is answered 503 in the OpenAI shape, with
// Retry-After, and closed; once a connection closes, the next is served.
func TestServerCapsConnections(t *testing.T) {
	s := gateway.NewServer("", gateway.NewHandler(okProvider()))
	s.MaxConns = 2
	addr := serve(t, s)
	const get = "GET /v1/models HTTP/1.1\r\nHost: gw\r\n\r\n"
	held := make([]*net.TCPConn, 2)
	for i := range held {
		held[i] = rawDial(t, addr)
		_, err := io.WriteString(held[i], get)
		require.NoError(t, err)
		resp, _ := rawResponse(t, bufio.NewReader(held[i]), "GET")
		require.Equal(t, 200, resp.StatusCode, "served: the connection is open and counted")
	}

	over := rawDial(t, addr)
	resp, body := rawResponse(t, bufio.NewReader(over), "")
	assertOpenAIError(t, resp, body, 503, "server_overloaded")
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	_, err := over.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "the refused connection is closed")
	// A client that sends its request at once reads the answer too: the
	// server drops what it sent rather than resetting the connection.
	over = rawDial(t, addr)
	_, err = io.WriteString(over, get)
	require.NoError(t, err)
	resp, body = rawResponse(t, bufio.NewReader(over), "")
	assertOpenAIError(t, resp, body, 503, "server_overloaded")

	held[0].Close()
	// The server sees the close when its read returns: retry until it has,
	// within a bound.
	for i := 0; ; i++ {
		require.Less(t, i, 200, "a closed connection never freed its place")
		c := rawDial(t, addr)
		_, err := io.WriteString(c, get)
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil && resp.StatusCode == 200 {
			break
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServerRefusesANegativeMaxConns(t *testing.T) {
	s := gateway.NewServer("", http.NotFoundHandler())
	s.MaxConns = -1
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	err = s.Serve(ln)
	require.Error(t, err)
	assert.False(t, errors.Is(err, http.ErrServerClosed))
}

// A handler's own responses pass through the server untouched, its
// text/plain errors included: only net/http's early answers are rewritten.
func TestServerLeavesHandlersResponsesAlone(t *testing.T) {
	addr := serve(t, gateway.NewServer("", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "400 Bad Request", http.StatusBadRequest)
	})))
	c := rawDial(t, addr)
	_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: gw\r\n\r\n")
	require.NoError(t, err)
	resp, body := rawResponse(t, bufio.NewReader(c), "GET")
	assert.Equal(t, 400, resp.StatusCode)
	assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "400 Bad Request\n", string(body))
}

// Over TLS net/http's answer to plain HTTP on the TLS port is in the OpenAI
// shape too; TLS requests are served as usual; and the cap holds (the
// refusal is written before any TLS, so a TLS client sees a failed
// handshake rather than the 503).
func TestServerServeTLS(t *testing.T) {
	certs := httptest.NewUnstartedServer(http.NotFoundHandler())
	certs.StartTLS() // for its certificate and a client that trusts it
	defer certs.Close()

	s := gateway.NewServer("", gateway.NewHandler(okProvider()))
	s.TLSConfig = certs.TLS.Clone()
	s.ErrorLog = quietLog()
	s.MaxConns = 2
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.ServeTLS(ln, "", "") }()
	defer func() {
		s.Close()
		assert.ErrorIs(t, <-done, http.ErrServerClosed)
	}()
	addr := ln.Addr().String()

	resp, err := certs.Client().Get("https://" + addr + "/v1/models")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.NotNil(t, resp.TLS)

	c := rawDial(t, addr)
	_, err = io.WriteString(c, "GET /v1/models HTTP/1.1\r\nHost: gw\r\n\r\n")
	require.NoError(t, err)
	resp, body := rawResponse(t, bufio.NewReader(c), "GET")
	assertOpenAIError(t, resp, body, 400, "invalid_request")
	c.Close()

	// The cap: two connections; the keep-alive one above holds one.
	held := rawDial(t, addr) // a second, silent
	defer held.Close()
	other := &http.Client{Transport: certs.Client().Transport.(*http.Transport).Clone()}
	defer other.CloseIdleConnections()
	eventuallyRefused := false
	for range 50 { // the closed raw connection above may take a moment to be counted out
		if _, err := other.Get("https://" + addr + "/v1/models"); err != nil {
			eventuallyRefused = true
			break
		}
		other.CloseIdleConnections()
		time.Sleep(10 * time.Millisecond)
	}
	assert.True(t, eventuallyRefused, "a third connection over TLS is refused")
	certs.Client().CloseIdleConnections()
}

// A TLS listener passed to Serve is served as net/http serves it (TLS state,
// HTTP/2), not hidden behind a wrapper.
func TestServerServesATLSListenerAsNetHTTPDoes(t *testing.T) {
	certs := httptest.NewUnstartedServer(http.NotFoundHandler())
	certs.EnableHTTP2 = true
	certs.StartTLS()
	defer certs.Close()

	s := gateway.NewServer("", gateway.NewHandler(okProvider()))
	s.ErrorLog = quietLog()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- s.Serve(tls.NewListener(ln, certs.TLS.Clone())) }()
	defer func() {
		s.Close()
		assert.ErrorIs(t, <-done, http.ErrServerClosed)
	}()

	resp, err := certs.Client().Get("https://" + addr + "/v1/models")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, 2, resp.ProtoMajor, "HTTP/2 negotiated: net/http saw its *tls.Conn")
	certs.Client().CloseIdleConnections()
}
