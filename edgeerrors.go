package gateway

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// The server edge's own refusals: the connection and body caps, and the
// errors net/http would otherwise answer in text/plain before any handler
// runs (earlyerror.go). They are registered, so ErrorFromResponse knows
// their codes, and unexported: a caller tells them by status and code.
var (
	errOverloaded        = newSentinel(http.StatusServiceUnavailable, "service_unavailable", "server_overloaded", "gateway: server overloaded; retry later")
	errRequestTimeout    = newSentinel(http.StatusRequestTimeout, "invalid_request_error", "request_timeout", "gateway: the request body did not arrive in time")
	errHeaderTooLarge    = newSentinel(http.StatusRequestHeaderFieldsTooLarge, "invalid_request_error", "request_header_too_large", "gateway: request header fields too large")
	errUnsupportedTE     = newSentinel(http.StatusNotImplemented, "invalid_request_error", "unsupported_transfer_encoding", "gateway: unsupported transfer encoding")
	errHTTPVersion       = newSentinel(http.StatusHTTPVersionNotSupported, "invalid_request_error", "http_version_not_supported", "gateway: unsupported HTTP version")
	errExpectationFailed = newSentinel(http.StatusExpectationFailed, "invalid_request_error", "expectation_failed", "gateway: unsupported Expect header")
)

// overloadRetryAfter is what a caller refused by a server-wide cap is told
// to wait: bodies and connections free up as calls end, so soon.
const overloadRetryAfter = time.Second

var (
	errBodiesInFlight = errOverloaded.WithMessage("gateway: too many request bytes in flight; retry later").WithRetryAfter(overloadRetryAfter)
	errTooManyConns   = errOverloaded.WithMessage("gateway: too many connections; retry later").WithRetryAfter(overloadRetryAfter)
)

// bodyReadError maps an error reading a caller's request body to what the
// caller is told. The gateway's own refusals (413, 503) stand; anything else
// is the caller's fault, not an upstream's: a body that did not arrive
// within the server's ReadTimeout is a 408, one cut short or badly framed
// (chunked encoding) a 400. The cause stays reachable for logs.
func bodyReadError(err error, chunked bool) error {
	var ge *Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ge), errors.As(err, &mbe):
		return err
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errRequestTimeout.withCause(err)
	case errors.Is(err, io.ErrUnexpectedEOF) && chunked:
		return badRequest("gateway: the request body's chunked encoding ended before its last chunk").withCause(err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("gateway: the request body ended before its Content-Length").withCause(err)
	}
	return badRequest("gateway: the request body could not be read: cut or malformed").withCause(err)
}
