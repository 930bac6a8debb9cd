package limiter

import (
	"net/http"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/hooks"
)

// Sentinels for what a Limiter refuses. Each is a *gateway.Error kind: match
// with errors.Is. The errors returned derive from them, name the rule that
// refused, and carry a Retry-After computed from the limit: when the bucket
// will hold what the call needs, when the quota's period ends. The OpenAI
// body is {"error":{"type":"rate_limit_error","code":…}} and the response
// carries the x-ratelimit-* headers (see Limiter.Middleware).
var (
	// ErrRateLimited: a request, token or concurrency limit refused the
	// call. 429, code "rate_limit_exceeded". A router that meets it from a
	// target's own limit (Limiter.Target) passes over that target without
	// counting it as an attempt or a breaker failure.
	ErrRateLimited = newSentinel(http.StatusTooManyRequests, "rate_limit_error", "rate_limit_exceeded",
		"limiter: rate limit exceeded")
	// ErrQuotaExceeded: a daily or monthly quota is used up. 429, code
	// "quota_exceeded", Retry-After = the time until the period resets.
	ErrQuotaExceeded = newSentinel(http.StatusTooManyRequests, "rate_limit_error", "quota_exceeded",
		"limiter: quota exceeded")
)

func newSentinel(status int, typ, code, msg string) *gateway.Error {
	e := hooks.NewSentinel(status, typ, code, msg).(*gateway.Error)
	hooks.RegisterNotSent(e)
	return e
}

// errNoCall answers a request that did not come through an entry point: a
// limiter without a Call would have nothing to key its limits on, and
// letting it pass would leave it unlimited.
var errNoCall = gateway.ErrInternal.WithMessage("limiter: no Call in the request context: " +
	"send requests through gateway.NewClient or gateway.NewHandler")
