package breaker

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxRetryAfter is the ceiling on an upstream's Retry-After used when
// a configuration does not set one.
const DefaultMaxRetryAfter = time.Minute

// RetryAfter reads how long an upstream asked to wait before the next
// request, from retry-after-ms (milliseconds, OpenAI and Azure send it) or
// else Retry-After (whole or fractional seconds, or an HTTP date, read
// against now). It returns false when neither is present or valid: a
// negative, NaN, infinite or unparsable value is ignored, and so is a date
// that has passed. The wait is clamped to ceiling (DefaultMaxRetryAfter
// when ceiling <= 0), so a hostile or broken upstream cannot park a target
// for a day.
//
// RetryAfter is safe for concurrent use.
func RetryAfter(h http.Header, now time.Time, ceiling time.Duration) (time.Duration, bool) {
	if ceiling <= 0 {
		ceiling = DefaultMaxRetryAfter
	}
	if h == nil {
		return 0, false
	}
	if v := headerValue(h, "Retry-After-Ms", "retry-after-ms"); v != "" {
		if d, ok := parseNumber(v, float64(time.Millisecond)); ok {
			return min(d, ceiling), true
		}
	}
	v := headerValue(h, "Retry-After", "retry-after")
	if v == "" {
		return 0, false
	}
	if d, ok := parseNumber(v, float64(time.Second)); ok {
		return min(d, ceiling), true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			return 0, false
		}
		return min(d, ceiling), true
	}
	return 0, false
}

// headerValue is h.Get(key) for a canonical key, also accepting the
// lower-case key a hand-built header map may hold.
func headerValue(h http.Header, key, lower string) string {
	if v := h[key]; len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	if v := h[lower]; len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

// parseNumber parses a non-negative finite decimal number of units.
func parseNumber(s string, unit float64) (time.Duration, bool) {
	if s == "" || (s[0] != '.' && (s[0] < '0' || s[0] > '9')) {
		return 0, false // no signs, no "NaN"/"Inf"
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, false
	}
	d := f * unit
	if d >= math.MaxInt64 {
		return math.MaxInt64, true
	}
	return time.Duration(d), true
}
