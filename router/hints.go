package router

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Upstream rate-limit hints: steering away from a target before it answers
// 429.
//
// OpenAI-compatible upstreams send, with every response,
//
//	x-ratelimit-remaining-requests: 2
//	x-ratelimit-remaining-tokens:   1200
//	x-ratelimit-reset-requests:     1s        (a Go-style duration: "20ms", "6m0s")
//	x-ratelimit-reset-tokens:       6m0s
//
// and Anthropic sends anthropic-ratelimit-requests-remaining,
// anthropic-ratelimit-tokens-remaining (else -input-tokens-remaining) and
// their -reset as an RFC 3339 time. After each response the router records
// them for the target:
//
//   - remaining requests at or below Config.HintFloor mark the target
//     saturated until the requests reset;
//   - remaining tokens are kept until the tokens reset, and the target is
//     saturated for any call whose estimate (prompt tokens + max_tokens) is
//     larger.
//
// A saturated target is passed over like an unhealthy one (so the next tier
// takes the call) but is still used when nothing better is left: a hint is
// a forecast, not a refusal. A reset time that is missing or unreadable
// counts as breaker.DefaultCooldown; one beyond breaker.DefaultMaxRetryAfter
// is cut to it. A later response with more requests left lifts the mark.

// rateHints is what one response said about its upstream's rate limits.
type rateHints struct {
	requests, tokens   int64
	reqReset, tokReset time.Duration // 0 when unknown
	hasReq, hasTok     bool
}

// Canonical header keys, so that reading them allocates nothing.
const (
	hdrRemainingRequests = "X-Ratelimit-Remaining-Requests"
	hdrRemainingTokens   = "X-Ratelimit-Remaining-Tokens"
	hdrResetRequests     = "X-Ratelimit-Reset-Requests"
	hdrResetTokens       = "X-Ratelimit-Reset-Tokens"

	hdrAnthropicRequests      = "Anthropic-Ratelimit-Requests-Remaining"
	hdrAnthropicRequestsReset = "Anthropic-Ratelimit-Requests-Reset"
	hdrAnthropicTokens        = "Anthropic-Ratelimit-Tokens-Remaining"
	hdrAnthropicTokensReset   = "Anthropic-Ratelimit-Tokens-Reset"
	hdrAnthropicInput         = "Anthropic-Ratelimit-Input-Tokens-Remaining"
	hdrAnthropicInputReset    = "Anthropic-Ratelimit-Input-Tokens-Reset"
)

// parseRateHints reads the rate-limit headers of a response received at
// now. Values that are missing, negative or unreadable are ignored.
func parseRateHints(h http.Header, now time.Time) rateHints {
	var r rateHints
	if len(h) == 0 {
		return r
	}
	r.requests, r.hasReq = headerCount(h, hdrRemainingRequests)
	r.tokens, r.hasTok = headerCount(h, hdrRemainingTokens)
	if r.hasReq || r.hasTok {
		r.reqReset = resetAfter(headerFirst(h, hdrResetRequests), now)
		r.tokReset = resetAfter(headerFirst(h, hdrResetTokens), now)
		return r
	}
	r.requests, r.hasReq = headerCount(h, hdrAnthropicRequests)
	r.reqReset = resetAfter(headerFirst(h, hdrAnthropicRequestsReset), now)
	if r.tokens, r.hasTok = headerCount(h, hdrAnthropicTokens); r.hasTok {
		r.tokReset = resetAfter(headerFirst(h, hdrAnthropicTokensReset), now)
	} else if r.tokens, r.hasTok = headerCount(h, hdrAnthropicInput); r.hasTok {
		r.tokReset = resetAfter(headerFirst(h, hdrAnthropicInputReset), now)
	}
	return r
}

func headerFirst(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

// headerCount reads a non-negative integer header.
func headerCount(h http.Header, key string) (int64, bool) {
	v := headerFirst(h, key)
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// resetAfter reads how long until a limit resets: a duration ("1s", "6m0s",
// "20ms"), a number of seconds, or an RFC 3339 time. It returns 0 when v is
// empty, unreadable, negative or in the past.
func resetAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if d, err := time.ParseDuration(v); err == nil {
		return max(d, 0)
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 && f < 1e9 {
		return time.Duration(f * float64(time.Second))
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// hintPolicy is how a router applies hints (see Config).
type hintPolicy struct {
	off      bool
	floor    int64
	fallback time.Duration // reset time when the upstream gives none
	ceiling  time.Duration
}

func (p hintPolicy) window(d time.Duration) int64 {
	if d <= 0 {
		d = p.fallback
	}
	return int64(min(d, p.ceiling))
}

// applyHints records what a response received at now (unix ns) said about
// the target's upstream.
func (s *targetState) applyHints(h rateHints, now int64, p hintPolicy) {
	if p.off {
		return
	}
	if h.hasReq {
		if h.requests <= p.floor {
			s.lowReqUntil.Store(now + p.window(h.reqReset))
		} else if s.lowReqUntil.Load() != 0 {
			s.lowReqUntil.Store(0)
		}
	}
	if h.hasTok {
		s.tokLeft.Store(h.tokens)
		s.tokUntil.Store(now + p.window(h.tokReset))
	}
}
