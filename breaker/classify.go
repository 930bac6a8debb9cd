package breaker

import (
	"context"
	"errors"
	"net/http"

	"github.com/llmgate/gateway"
)

// Class is what an attempt's outcome means for retries and circuit breaking.
type Class uint8

// The classes, decided by Classify.
const (
	// Success: a 2xx or 3xx response.
	Success Class = iota
	// Retryable: the upstream failed (5xx, connection refused, reset,
	// timeout) and another attempt may succeed.
	Retryable
	// Fatal: the request itself is wrong (400, 401, 403, 404, 413, 422…);
	// the same request fails again anywhere.
	Fatal
	// RateLimited: the upstream said 429. Retryable elsewhere or later, but
	// not a sign that the target is broken.
	RateLimited
	// Overloaded: the upstream said 503 or 529 (or a gateway component
	// refused for lack of capacity).
	Overloaded
	// Canceled: the caller's own context ended. Never a failure, never
	// retried.
	Canceled
)

var classNames = [...]string{"success", "retryable", "fatal", "rate_limited", "overloaded", "canceled"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "unknown"
}

// Retryable reports whether another attempt may succeed: true for
// Retryable, RateLimited and Overloaded.
func (c Class) Retryable() bool { return c == Retryable || c == RateLimited || c == Overloaded }

// Failure reports whether the outcome counts against a circuit breaker: true
// for Retryable and Overloaded. A 429 (RateLimited) does not: one rate limit
// must not eject a target; Retry-After drives a cooldown instead. Fatal
// outcomes show a healthy upstream refusing a bad request, and Canceled ones
// show nothing about the upstream at all.
func (c Class) Failure() bool { return c == Retryable || c == Overloaded }

// statusClass is the one table that classifies HTTP statuses. Statuses not
// listed take the class of their hundred (see classOfStatus).
var statusClass = map[int]Class{
	http.StatusRequestTimeout:          Retryable, // 408: the upstream gave up waiting for us
	http.StatusConflict:                Retryable, // 409: OpenAI uses it for lock timeouts
	http.StatusTooEarly:                Retryable, // 425
	http.StatusTooManyRequests:         RateLimited,
	499:                                Retryable, // an upstream proxy's "client closed"; our caller did not
	http.StatusNotImplemented:          Fatal,     // 501: the same request fails again
	http.StatusHTTPVersionNotSupported: Fatal,
	http.StatusServiceUnavailable:      Overloaded,
	529:                                Overloaded, // Anthropic's "overloaded"
}

// classOfStatus classifies an HTTP status from statusClass, else by its
// hundred: 1xx–3xx Success, other 4xx Fatal, other 5xx Retryable.
func classOfStatus(status int) Class {
	if status >= 200 && status < 300 { // the common case, no table entry
		return Success
	}
	if c, ok := statusClass[status]; ok {
		return c
	}
	switch {
	case status < 400:
		return Success
	case status < 500:
		return Fatal
	}
	return Retryable
}

// Classify decides what one attempt's outcome means. req is the caller's
// request (its context is the caller's): when that context is done the
// outcome is Canceled whatever happened, so an attempt cut by the caller is
// never a failure and never retried. An attempt-level deadline (Timeouts) is
// not the caller's and so is a failure (Retryable).
//
// resp is classified by its status (see the table in this file). An error
// that is a *gateway.Error is classified by its status the same way (an
// ErrOpen is Overloaded, ErrUpstreamTimeout Retryable, ErrClientClosed
// Canceled); context.Canceled is Canceled; any other error (connection
// refused, reset, EOF, a deadline) is Retryable. req may be nil.
//
// Classify is safe for concurrent use and allocates nothing.
func Classify(req *http.Request, resp *http.Response, err error) Class {
	if req != nil && req.Context().Err() != nil {
		return Canceled
	}
	if err == nil {
		if resp == nil {
			return Retryable
		}
		return classOfStatus(resp.StatusCode)
	}
	if ge := asGatewayError(err); ge != nil {
		if ge.Status == gateway.ErrClientClosed.Status {
			return Canceled
		}
		return classOfStatus(ge.Status)
	}
	if errors.Is(err, context.Canceled) {
		return Canceled
	}
	return Retryable
}

// IsDeadKey reports whether status says the credentials a target used are
// refused (401, 402, 403): that target is out for the rest of the call,
// while another target, with other credentials, may still serve it.
func IsDeadKey(status int) bool {
	return status == http.StatusUnauthorized || status == http.StatusPaymentRequired || status == http.StatusForbidden
}

// Classifier is the signature of Classify, for configurations that replace
// it.
type Classifier func(req *http.Request, resp *http.Response, err error) Class

// asGatewayError returns the *gateway.Error in err's chain, or nil.
func asGatewayError(err error) *gateway.Error {
	if err == nil {
		return nil
	}
	var ge *gateway.Error
	if errors.As(err, &ge) {
		return ge
	}
	return nil
}
