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
	// Success: a 1xx or 2xx response.
	Success Class = iota
	// Retryable: the upstream failed (5xx, connection refused, reset,
	// timeout) and another attempt may succeed.
	Retryable
	// Fatal: the answer is deterministic: the request itself is wrong
	// (400, 404, 413, 422…) and fails again anywhere, or the target cannot
	// take it (401, 402, 403, a redirect: see IsTargetFault) and fails again
	// there. Never retried; no breaker failure.
	Fatal
	// RateLimited: the upstream said 429. Retryable elsewhere or later, but
	// not a sign that the target is broken.
	RateLimited
	// Overloaded: the upstream said 503 or 529 (or a gateway component
	// refused for lack of capacity).
	Overloaded
	// Canceled: the caller's own context ended, or the gateway refused the
	// attempt before it reached the upstream (gateway.ErrModelNotAllowed:
	// the caller's key may not use the model this target would be sent).
	// Says nothing about the upstream: never a failure, never retried.
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
// hundred: 1xx and 2xx Success, 3xx (a redirect, never followed) and other
// 4xx Fatal, other 5xx Retryable.
func classOfStatus(status int) Class {
	if status >= 200 && status < 300 { // the common case, no table entry
		return Success
	}
	if c, ok := statusClass[status]; ok {
		return c
	}
	switch {
	case status < 300:
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
// Canceled), but for ErrRedirect, which is Fatal, and
// gateway.ErrModelNotAllowed, which is Canceled; context.Canceled is Canceled; any other error (connection
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
		switch {
		case ge.Status == gateway.ErrClientClosed.Status:
			return Canceled
		case ge.Is(ErrRedirect):
			return Fatal
		case ge.Is(gateway.ErrModelNotAllowed):
			return Canceled // nothing was sent: a probe's place is given back
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

// IsTargetFault reports whether an outcome says this target cannot serve the
// call while another may: a dead key (IsDeadKey), or a redirect (a 3xx, or
// ErrRedirect from a provider that refused to follow one). Such a target is
// out for the rest of the call; a router moves the call on.
func IsTargetFault(resp *http.Response, err error) bool {
	if resp != nil {
		return IsDeadKey(resp.StatusCode) || resp.StatusCode/100 == 3
	}
	if ge := asGatewayError(err); ge != nil {
		return ge.Is(ErrRedirect)
	}
	return false
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
