package gateway_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawDial opens a TCP connection to addr (a 127.0.0.1 address) whose reads
// and writes give up after 10 s, so that no test waits forever on a server
// that does not answer. The connection is closed when the test ends.
func rawDial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	return c.(*net.TCPConn)
}

// rawResponse reads one response to a request with the given method from
// br, and its whole body.
func rawResponse(t *testing.T, br *bufio.Reader, method string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	return resp, body
}

// assertOpenAIError checks that a response is a gateway error in the OpenAI
// shape: the status, a JSON content type, {"error":{message,type,code}} with
// the code, and the X-Llmgate-Error mark.
func assertOpenAIError(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	assert.Equal(t, status, resp.StatusCode, "body %q", body)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.Equal(t, code, resp.Header.Get("X-Llmgate-Error"))
	var e errorJSON
	require.NoError(t, json.Unmarshal(body, &e), "body %q", body)
	assert.Equal(t, code, e.Error.Code)
	assert.NotEmpty(t, e.Error.Type)
	assert.NotEmpty(t, e.Error.Message)
}
