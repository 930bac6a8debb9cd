package main

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A caller with no valid key is answered 401 before the gateway reads its
// body (cache.AuthGuard): a request that announces 5 MB and sends none of
// it gets its answer at once, where the entry point would otherwise wait
// for the body (and then read and parse it) before Auth could refuse.
func TestRunRefusesAKeylessCallBeforeItsBody(t *testing.T) {
	g := startGateway(t, "-addr", "127.0.0.1:0")
	for _, auth := range []string{"", "Authorization: Bearer sk-wrong\r\n"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(g.base, "http://"))
		require.NoError(t, err)
		_, err = conn.Write([]byte("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
			auth + "Content-Length: 5000000\r\n\r\n{\"model\":"))
		require.NoError(t, err)
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second))) // a bound, not a measure
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err, "answered without the body")
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.Equal(t, "invalid_api_key", resp.Header.Get("X-Llmgate-Error"))
		resp.Body.Close()
		conn.Close()
	}
	require.Equal(t, 0, g.stop())
	assert.Contains(t, g.stderr.String(), "error=invalid_api_key", "the access log tells of it")
}
