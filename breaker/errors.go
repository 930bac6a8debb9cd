package breaker

import (
	"net/http"

	"github.com/llmgate/gateway"
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
	ErrOpen = gateway.NewSentinel(http.StatusServiceUnavailable, "service_unavailable", "circuit_open",
		"breaker: circuit open")

	// ErrCoolingDown: the target answered 429 or 503 with a Retry-After that
	// has not passed yet, so the breaker sends it nothing. 429, code
	// "upstream_cooling_down", Retry-After = the time left. Classify calls
	// it RateLimited.
	ErrCoolingDown = gateway.NewSentinel(http.StatusTooManyRequests, "rate_limit_error", "upstream_cooling_down",
		"breaker: upstream asked to wait before the next request")

	// ErrStreamFailed: a stream ended, broke or reported an error before its
	// first content event, so nothing reached the caller and the call may be
	// retried or moved to another target. 502, code
	// "stream_failed_before_content", wrapping the cause. Classify calls it
	// Retryable.
	ErrStreamFailed = gateway.NewSentinel(http.StatusBadGateway, "api_error", "stream_failed_before_content",
		"breaker: stream failed before its first content")

	// ErrBulkheadFull: a bulkhead refused the call because its target has
	// as many calls in flight as it allows. 503, code "target_busy".
	// Classify calls it Overloaded.
	ErrBulkheadFull = gateway.NewSentinel(http.StatusServiceUnavailable, "service_unavailable", "target_busy",
		"breaker: too many calls in flight to this upstream")
)
