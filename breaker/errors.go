package breaker

import (
	"net/http"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/hooks"
)

// Sentinels for what this package refuses or fails on its own. Each is a
// *gateway.Error kind: match with errors.Is; the errors returned derive from
// them (with a Retry-After where one applies, and the cause for logs).
var (
	// ErrOpen: a circuit breaker refused the call because its target failed
	// too often. 503, code "circuit_open", Retry-After = the time left
	// before the next probe. It is its own kind, not ErrNoHealthyProvider: a
	// router that finds every target open reports ErrNoHealthyProvider.
	// Classify calls it Overloaded (retryable elsewhere, and later).
	ErrOpen = newSentinel(http.StatusServiceUnavailable, "service_unavailable", "circuit_open",
		"breaker: circuit open")

	// ErrCoolingDown: the target answered 429 or 503 with a Retry-After that
	// has not passed yet, so the breaker sends it nothing. 429, code
	// "upstream_cooling_down", Retry-After = the time left. Classify calls
	// it RateLimited.
	ErrCoolingDown = newSentinel(http.StatusTooManyRequests, "rate_limit_error", "upstream_cooling_down",
		"breaker: upstream asked to wait before the next request")

	// ErrBulkheadFull: a bulkhead refused the call because its target has
	// as many calls in flight as it allows. 503, code "target_busy".
	// Classify calls it Overloaded.
	ErrBulkheadFull = newSentinel(http.StatusServiceUnavailable, "service_unavailable", "target_busy",
		"breaker: too many calls in flight to this upstream")

	// ErrHedgeLost: a hedged attempt was cancelled because another attempt
	// of the same call answered first. It is never returned to a caller; it
	// is the cause of the loser's cancellation, recorded as that attempt's
	// error (code "hedge_lost").
	ErrHedgeLost = newSentinel(499, "api_error", "hedge_lost", "breaker: another hedged attempt answered first")

	// ErrRedirect: an upstream answered with a redirect, which the gateway
	// never follows (it would send the request, and maybe the key, wherever
	// the upstream points). The target is misconfigured (its base URL), and
	// the same request gets the same answer there: Classify calls it Fatal,
	// so it is not retried and is no breaker failure, and a router moves
	// the call to another target, as for a dead key (IsTargetFault). 502,
	// code "upstream_redirect".
	// It is the entry point's own kind too: a 3xx that reaches it is
	// answered with it.
	ErrRedirect = hooks.ErrRedirect.(*gateway.Error)
)

// newSentinel defines one of this package's kinds of *gateway.Error.
func newSentinel(status int, typ, code, msg string) *gateway.Error {
	return hooks.NewSentinel(status, typ, code, msg).(*gateway.Error)
}
