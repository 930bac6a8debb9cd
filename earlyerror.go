package gateway

import (
	"bytes"
	"net/http"
	"strconv"
)

// net/http refuses some requests before any handler runs, writing a
// text/plain answer straight to the connection in a single Write
// (net/http/server.go, conn.serve):
//
//	HTTP/1.1 <code> <text>[: <reason>]<plainHeaders><the status again, or "Unsupported transfer encoding">
//
// for 400 (malformed), 431 (headers too large), 501 (Transfer-Encoding) and
// 505 (HTTP version); expectFailed (417, an Expect other than
// 100-continue) through its response writer, with no body; and, on a TLS
// port, plainToTLS. earlyErrorReply recognises exactly those writes, whole,
// and returns the same status in the OpenAI shape. No handler's response
// matches unless it forges one of them byte for byte (no Date, an identity
// Transfer-Encoding, the same body), and that one is answered as net/http's
// would be.
const (
	plainHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
	plainToTLS   = "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
	expectFailed = "HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nDate: " // then the date, 29 bytes, and expectEnd
	expectEnd    = "\r\nContent-Length: 0\r\n\r\n"
)

// earlyErrorReply returns the OpenAI-shape answer that replaces p, when p is
// one of net/http's early errors, or nil.
func earlyErrorReply(p []byte) []byte {
	if len(p) < len("HTTP/1.1 400 ") || p[0] != 'H' || string(p[:5]) != "HTTP/" {
		return nil // the common case: a body, or a status line checked below
	}
	if string(p) == plainToTLS {
		return rawErrorResponse("HTTP/1.0", badRequest("gateway: an HTTP request sent to the HTTPS port"))
	}
	if string(p[:9]) != "HTTP/1.1 " {
		return nil
	}
	if len(p) == len(expectFailed)+len(http.TimeFormat)+len(expectEnd) &&
		string(p[:len(expectFailed)]) == expectFailed && string(p[len(p)-len(expectEnd):]) == expectEnd {
		return rawErrorResponse("HTTP/1.1", errExpectationFailed)
	}
	end := bytes.IndexByte(p, '\r')
	if end < 0 || !bytes.HasPrefix(p[end:], []byte(plainHeaders)) {
		return nil
	}
	line, body := p[len("HTTP/1.1 "):end], p[end+len(plainHeaders):]
	if len(line) < 4 || line[3] != ' ' {
		return nil
	}
	code, err := strconv.Atoi(string(line[:3]))
	if err != nil {
		return nil
	}
	text := http.StatusText(code)
	reason, ok := bytes.CutPrefix(line[4:], []byte(text))
	if !ok || text == "" {
		return nil
	}
	if len(reason) > 0 {
		if reason, ok = bytes.CutPrefix(reason, []byte(": ")); !ok {
			return nil
		}
	}
	switch {
	case code == http.StatusNotImplemented && string(body) == "Unsupported transfer encoding":
		return rawErrorResponse("HTTP/1.1", errUnsupportedTE)
	case !bytes.Equal(body, line):
		return nil
	}
	return rawErrorResponse("HTTP/1.1", earlyError(code, string(reason)))
}

// earlyError is the gateway error for one of net/http's early statuses.
// reason comes from net/http's own constants ("missing required Host
// header"), never from the request.
func earlyError(code int, reason string) *Error {
	switch code {
	case http.StatusRequestHeaderFieldsTooLarge:
		return errHeaderTooLarge
	case http.StatusHTTPVersionNotSupported:
		return errHTTPVersion
	case http.StatusBadRequest:
		if reason != "" {
			return badRequest("gateway: bad request: " + reason)
		}
		return badRequest("gateway: malformed request")
	}
	// A status net/http adds later: keep it, in the OpenAI shape.
	e := badRequest("gateway: " + http.StatusText(code))
	e.Status = code
	return e
}

// rawErrorResponse is e as a whole HTTP response written straight to a
// connection, which it closes: the status line in proto, e's headers
// (Retry-After, X-Llmgate-Error…), Content-Length and the OpenAI-style body.
func rawErrorResponse(proto string, e *Error) []byte {
	body := e.json()
	h := make(http.Header, 8)
	e.setHeaders(h)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Connection", "close")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	var b bytes.Buffer
	b.WriteString(proto + " " + strconv.Itoa(e.Status) + " " + http.StatusText(e.Status) + "\r\n")
	_ = h.Write(&b)
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}
