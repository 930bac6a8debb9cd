package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Error is an error the gateway itself produces: a refusal (rate limited,
// unauthorized…) or a failure it reports on a caller's behalf (no healthy
// provider, upstream timeout). Each has an HTTP status, an OpenAI-style type
// and code, and, where it applies, a Retry-After.
//
// The exported Err… values are sentinels: match with errors.Is, which holds
// for every Error derived from a sentinel by its With… methods. Message is
// shown to callers and so never holds a secret, an upstream URL or a cause's
// text; the cause is reachable with errors.Unwrap for logs and errors.As.
//
// An *Error is never modified once made: the With… methods return copies, so
// sentinels are safe for concurrent use. Its fields are exported to be read;
// changing one, a sentinel's above all, is a bug.
type Error struct {
	Status     int
	Type       string // OpenAI error type, e.g. "invalid_request_error"
	Code       string // stable machine-readable code, e.g. "rate_limit_exceeded"
	Message    string
	RetryAfter time.Duration // 0 when it does not apply

	kind  *Error // the sentinel this derives from; nil for a sentinel
	cause error
}

// Sentinels for everything the gateway refuses or fails on its own.
var (
	ErrBadRequest        = sentinel(http.StatusBadRequest, "invalid_request_error", "invalid_request", "gateway: bad request")
	ErrBodyTooLarge      = sentinel(http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large", "gateway: request body too large")
	ErrNotFound          = sentinel(http.StatusNotFound, "invalid_request_error", "unknown_url", "gateway: unknown path")
	ErrMethodNotAllowed  = sentinel(http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed", "gateway: method not allowed")
	ErrModelNotFound     = sentinel(http.StatusNotFound, "invalid_request_error", "model_not_found", "gateway: no provider serves this model")
	ErrNoHealthyProvider = sentinel(http.StatusServiceUnavailable, "service_unavailable", "no_healthy_provider", "gateway: no healthy provider")
	ErrUpstream          = sentinel(http.StatusBadGateway, "api_error", "upstream_error", "gateway: upstream failed")
	ErrUpstreamTimeout   = sentinel(http.StatusGatewayTimeout, "timeout_error", "upstream_timeout", "gateway: upstream timed out")
	ErrClientClosed      = sentinel(499, "invalid_request_error", "client_closed", "gateway: client closed the request")
	ErrInternal          = sentinel(http.StatusInternalServerError, "api_error", "internal_error", "gateway: internal error")
	// ErrModelNotAllowed: the caller's key may not use the model an attempt
	// would send (Caller.Allows). The attempt boundary refuses it before the
	// provider sees it: no attempt is recorded, no breaker counts it, and a
	// router tries another target; the caller gets it when none is allowed.
	ErrModelNotAllowed = sentinel(http.StatusForbidden, "permission_error", "model_not_allowed", "gateway: this key may not use the model")
)

// errRedirect: an upstream answered with a redirect, which the gateway
// never follows nor passes on. It is breaker.ErrRedirect (through
// hooks.ErrRedirect), so that a provider's refusal to follow one and a 3xx
// reaching the entry point are one kind of error.
var errRedirect = sentinel(http.StatusBadGateway, "api_error", "upstream_redirect",
	"gateway: the upstream answered with a redirect, which is not followed")

var (
	sentinelsMu sync.RWMutex
	sentinels   = []*Error{
		ErrBadRequest, ErrBodyTooLarge, ErrNotFound, ErrMethodNotAllowed, ErrModelNotFound,
		ErrNoHealthyProvider, ErrUpstream, ErrUpstreamTimeout, ErrClientClosed, ErrInternal, ErrModelNotAllowed,
		errStreamFailed, // a kind of ErrUpstream with a code of its own
		errRedirect,
	}
)

func sentinel(status int, typ, code, msg string) *Error {
	return &Error{Status: status, Type: typ, Code: code, Message: msg}
}

// newSentinel defines a new kind of gateway error, for a subpackage whose
// refusals need their own code (through hooks.NewSentinel), and registers it
// for ErrorFromResponse. errors.Is matches errors derived from the result by
// their With… methods. It panics if code is already registered.
func newSentinel(status int, typ, code, msg string) *Error {
	e := sentinel(status, typ, code, msg)
	sentinelsMu.Lock()
	defer sentinelsMu.Unlock()
	for _, s := range sentinels {
		if s.Code == code {
			panic("gateway: sentinel code " + code + " already registered")
		}
	}
	sentinels = append(sentinels, e)
	return e
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is e or the sentinel e derives from. A nil e is
// nothing.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && e != nil && (t == e || t == e.kind)
}

func (e *Error) derive() *Error {
	c := *e
	if c.kind == nil {
		c.kind = e
	}
	return &c
}

// WithMessage returns a copy of e that shows msg to callers.
func (e *Error) WithMessage(msg string) *Error {
	c := e.derive()
	c.Message = msg
	return c
}

// WithRetryAfter returns a copy of e that tells callers to wait d.
func (e *Error) WithRetryAfter(d time.Duration) *Error {
	c := e.derive()
	c.RetryAfter = d
	return c
}

// withCause returns a copy of e that wraps cause, for logs and errors.As. The
// cause is never shown to callers.
func (e *Error) withCause(cause error) *Error {
	c := e.derive()
	c.cause = cause
	return c
}

func badRequest(msg string) *Error { return ErrBadRequest.WithMessage(msg) }

// ErrorFor maps any error to the gateway error a caller should see: an
// *Error is returned as it is; the caller's own cancellation becomes
// ErrClientClosed; a deadline, ErrUpstreamTimeout; a body over its limit,
// ErrBodyTooLarge; anything else, ErrUpstream wrapping it. It returns nil for
// a nil error.
func ErrorFor(err error) *Error {
	if err == nil {
		return nil
	}
	var ge *Error
	if errors.As(err, &ge) {
		return ge
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, context.Canceled):
		return ErrClientClosed.withCause(err)
	case errors.Is(err, context.DeadlineExceeded):
		return ErrUpstreamTimeout.withCause(err)
	case errors.As(err, &mbe):
		return ErrBodyTooLarge.withCause(err)
	}
	return ErrUpstream.withCause(err)
}

// errorHeader marks every response the gateway itself writes for one of its
// errors, with the error's code: it is how a caller tells the gateway's own
// refusals from a provider's error passed through (an upstream's 429
// rate_limit_exceeded is not the gateway's). The attempt boundary removes it
// from every provider response, so only the gateway's own carry it.
const errorHeader = "X-Llmgate-Error"

// ErrorFromResponse returns the sentinel of an error response (4xx or 5xx)
// the gateway itself wrote (the root's sentinels and the subpackages' own: an open
// circuit, a rate limit…), or nil for any other response, an upstream's error
// passed through included. In client mode a refusal reaches the SDK as an
// HTTP response; with openai-go:
//
//	var apiErr *openai.Error
//	if errors.As(err, &apiErr) && errors.Is(gateway.ErrorFromResponse(apiErr.Response), gateway.ErrNoHealthyProvider) { … }
//
// Over HTTP, the gateway's own error responses carry the header
// X-Llmgate-Error: <code>; providers' never do.
//
// The result is an error, nil or a *Error sentinel, so that errors.Is on it
// is safe either way.
func ErrorFromResponse(resp *http.Response) error {
	if resp == nil || resp.StatusCode < 400 {
		return nil
	}
	if s := sentinelByCode(resp.Header.Get(errorHeader)); s != nil {
		return s
	}
	return nil
}

func sentinelByCode(code string) *Error {
	if code == "" {
		return nil
	}
	sentinelsMu.RLock()
	defer sentinelsMu.RUnlock()
	for _, s := range sentinels {
		if s.Code == code {
			return s
		}
	}
	return nil
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    string  `json:"code"`
}

// json returns the OpenAI-style body for e: {"error":{"message","type","param","code"}}.
func (e *Error) json() []byte {
	b, _ := json.Marshal(errorBody{Error: errorDetail{Message: e.Message, Type: e.Type, Code: e.Code}})
	return append(b, '\n')
}

// setHeaders sets the content type and, when e has one, Retry-After (whole
// seconds, rounded up) and retry-after-ms.
func (e *Error) setHeaders(h http.Header) {
	h.Set("Content-Type", "application/json")
	h.Set(errorHeader, e.Code)
	if e.RetryAfter > 0 {
		secs := int64((e.RetryAfter + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
		h.Set("Retry-After-Ms", strconv.FormatInt(e.RetryAfter.Milliseconds(), 10))
	}
}

// WriteError writes err to w as the gateway's handler answers its own
// errors: the status, Retry-After where it applies, the X-Llmgate-Error
// mark and the OpenAI-style body of ErrorFor(err). It is for handlers
// served beside the gateway's own (an admin API, a health check), so that
// every error a server sends has one shape.
func WriteError(w http.ResponseWriter, err error) { writeError(w, err) }

// writeError writes err to w as the gateway error ErrorFor maps it to: its
// status, headers and OpenAI-style JSON body.
func writeError(w http.ResponseWriter, err error) {
	ge := ErrorFor(err)
	ge.setHeaders(w.Header())
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(ge.Status)
	_, _ = w.Write(ge.json())
}

// errorResponse returns err as the HTTP response a gateway server would send
// for it: how client mode hands refusals to an SDK.
func errorResponse(req *http.Request, err error) *http.Response {
	ge := ErrorFor(err)
	body := ge.json()
	h := make(http.Header, 4)
	ge.setHeaders(h)
	return &http.Response{
		Status:        strconv.Itoa(ge.Status) + " " + http.StatusText(ge.Status),
		StatusCode:    ge.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          newBytesBody(body),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}
