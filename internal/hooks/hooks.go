// Package hooks lets this module's packages reach the few parts of package
// gateway that must not be public: per-call bookkeeping that billing and
// retry budgets trust, the attempt boundary's identity, and the registry of
// error codes. Package gateway sets
// every hook in its init; they are never nil once it is imported, which any
// package that uses them does.
package hooks

import (
	"context"
	"errors"
	"time"
)

// CallOnce reports whether key is claimed for the first time on call, a
// *gateway.Call. Layers that share per-call work (a retry budget credited by
// Retry, Hedge and a router) do it once per call with it. key must be
// comparable.
var CallOnce func(call any, key any) bool

// IsBoundary reports whether rt is an attempt boundary already (what
// gateway.Chain returns over a Provider), so that a router does not put a
// second one in front of it.
var IsBoundary func(rt any) bool

// NewSentinel defines and registers a new kind of *gateway.Error, for the
// subpackages' own refusals (an open circuit, a rate limit), returned as an
// error holding a *gateway.Error. It panics if code is already registered:
// call it at package level.
var NewSentinel func(status int, typ, code, msg string) error

// ErrRedirect is package gateway's error kind for an upstream redirect,
// which package breaker exports as ErrRedirect: one kind for a provider's
// refusal to follow one and a 3xx reaching the entry point.
var ErrRedirect error

// Waited adds d to the time a *gateway.Call has waited for capacity (a
// Retry-After, a cooling-down target) and returns the total; Waited(c, 0)
// reads it. Retry and the router keep their waits within one MaxWait with
// it.
var Waited func(call any, d time.Duration) time.Duration

// SetCacheResult records on a *gateway.Call what a response cache did with
// it ("hit", "shared", "miss"; see Call.CacheResult). The first record
// stands.
var SetCacheResult func(call any, result string)

// OnEnd has fn told, once, that a *gateway.Call has ended: when its
// observers are (WithObserver), just before them, with its attempts, usage
// and Result final; at once when it has ended already. A middleware that
// holds something for a call (a budget reservation) releases it there, and
// one that records the call (the billing Meter) records it there: the end
// is the entry point's fact, and this is how a layer inside learns it.
var OnEnd func(call any, fn func())

// SetHeader sets a header the gateway sends a *gateway.Call's caller with its
// answer, whatever it is: the response, or the error the call was refused
// with (a limiter's x-ratelimit-* headers). Upstream headers of the same name
// are replaced.
var SetHeader func(call any, name, value string)

// OnAttempt has fn told of each attempt the attempt boundary records for a
// *gateway.Call from now on: attempt is the gateway.Attempt as recorded (its
// N set), ctx the context of the request the boundary served, so a
// middleware just above the boundary (a tracer's attempt span) finds what it
// put there. fn runs in the boundary's goroutine right after the record,
// before the boundary returns, outside every lock; it must not block. A
// round trip the boundary refuses before sending (a model the caller may not
// use) and a model list are no attempts and are not told. Register once per
// call (CallOnce), before the call is dispatched to its boundaries.
var OnAttempt func(call any, fn func(ctx context.Context, attempt any))

// notSent lists the error kinds that a target's own middleware refuses a
// call with before anything is sent upstream (an account's rate limit). It is
// written only by RegisterNotSent, at package init.
var notSent []error

// RegisterNotSent adds kind to the refusals IsNotSent recognises. Call it at
// package level (in a var initialiser or init), never later.
func RegisterNotSent(kind error) { notSent = append(notSent, kind) }

// IsNotSent reports whether err derives from a kind registered with
// RegisterNotSent: a router passes over a target that refused with one as
// it does over one whose breaker refused, since nothing was sent.
func IsNotSent(err error) bool {
	for _, k := range notSent {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}
