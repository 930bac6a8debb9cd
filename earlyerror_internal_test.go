package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// earlyErrorReply rewrites exactly net/http's own early answers, whole, and
// nothing a handler's response writer sends.
func TestEarlyErrorReply(t *testing.T) {
	const plain = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
	rewritten := []struct {
		name, write string
		status      int
		code        string
	}{
		{"400", "HTTP/1.1 400 Bad Request" + plain + "400 Bad Request", 400, "invalid_request"},
		{"400 with a reason", "HTTP/1.1 400 Bad Request: missing required Host header" + plain + "400 Bad Request: missing required Host header", 400, "invalid_request"},
		{"431", "HTTP/1.1 431 Request Header Fields Too Large" + plain + "431 Request Header Fields Too Large", 431, "request_header_too_large"},
		{"501", "HTTP/1.1 501 Not Implemented" + plain + "Unsupported transfer encoding", 501, "unsupported_transfer_encoding"},
		{"505", "HTTP/1.1 505 HTTP Version Not Supported: unsupported protocol version" + plain + "505 HTTP Version Not Supported: unsupported protocol version", 505, "http_version_not_supported"},
		{"417", "HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nDate: Tue, 01 Dec 2026 10:50:06 GMT\r\nContent-Length: 0\r\n\r\n", 417, "expectation_failed"},
		{"plain HTTP to the TLS port", "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n", 400, "invalid_request"},
	}
	for _, tt := range rewritten {
		t.Run(tt.name, func(t *testing.T) {
			reply := earlyErrorReply([]byte(tt.write))
			require.NotNil(t, reply)
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(reply)), nil)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			assert.Equal(t, tt.code, resp.Header.Get(errorHeader))
			assert.True(t, resp.Close, "Connection: close, as net/http closes it")
			var e errorJSON
			require.NoError(t, json.Unmarshal(body, &e))
			assert.Equal(t, tt.code, e.Error.Code)
			assert.NotContains(t, e.Error.Message, "\n")
		})
	}
	kept := []string{
		"",
		"lorem ipsum",
		"HTTP/1.1 100 Continue\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}",
		"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nDate: Tue, 01 Dec 2026 10:50:06 GMT\r\nContent-Length: 16\r\n\r\n400 Bad Request\n", // http.Error
		"HTTP/1.1 400 Bad Request" + plain + "400 Bad Request and more",                                                                                                                                // not the whole write
		"HTTP/1.1 400 Bad Request" + plain + "401 Unauthorized",                                                                                                                                        // body and status disagree
		"HTTP/1.1 400 Bad Requests" + plain + "400 Bad Requests",                                                                                                                                       // not the status text
		"HTTP/1.1 999 Nonsense" + plain + "999 Nonsense",                                                                                                                                               // no status text
		"HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nDate: Tue, 01 Dec 2026 10:50:06 GMT\r\nContent-Length: 5\r\n\r\n",                                                                     // a handler's 417
		"HTTP/1.1 417 Expectation Failed\r\nX-Request-Id: 1\r\nConnection: close\r\nDate: Tue, 01 Dec 2026 10:50:06 GMT\r\nContent-Length: 0\r\n\r\n",
		strings.Repeat("HTTP/1.1 ", 100),
	}
	for _, w := range kept {
		assert.Nil(t, earlyErrorReply([]byte(w)), "%q", w)
	}
}
