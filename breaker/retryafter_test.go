package breaker_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/llmgate/gateway/breaker"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	date := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	tests := []struct {
		name    string
		header  http.Header
		ceiling time.Duration
		want    time.Duration
		ok      bool
	}{
		{"none", http.Header{}, time.Minute, 0, false},
		{"nil header", nil, time.Minute, 0, false},
		{"seconds", http.Header{"Retry-After": {"7"}}, time.Minute, 7 * time.Second, true},
		{"fractional seconds", http.Header{"Retry-After": {"1.5"}}, time.Minute, 1500 * time.Millisecond, true},
		{"zero", http.Header{"Retry-After": {"0"}}, time.Minute, 0, true},
		{"spaces", http.Header{"Retry-After": {" 3 "}}, time.Minute, 3 * time.Second, true},
		{"http date", http.Header{"Retry-After": {date(20 * time.Second)}}, time.Minute, 20 * time.Second, true},
		{"past date", http.Header{"Retry-After": {date(-20 * time.Second)}}, time.Minute, 0, false},
		{"milliseconds", http.Header{"Retry-After-Ms": {"250"}}, time.Minute, 250 * time.Millisecond, true},
		{"lower-case milliseconds", http.Header{"retry-after-ms": {"250"}}, time.Minute, 250 * time.Millisecond, true},
		{"ms wins over seconds", http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"9"}}, time.Minute, 250 * time.Millisecond, true},
		{"bad ms falls back to seconds", http.Header{"Retry-After-Ms": {"soon"}, "Retry-After": {"9"}}, time.Minute, 9 * time.Second, true},
		{"negative", http.Header{"Retry-After": {"-5"}}, time.Minute, 0, false},
		{"negative ms", http.Header{"Retry-After-Ms": {"-5"}}, time.Minute, 0, false},
		{"NaN", http.Header{"Retry-After": {"NaN"}}, time.Minute, 0, false},
		{"Inf", http.Header{"Retry-After": {"Inf"}}, time.Minute, 0, false},
		{"garbage", http.Header{"Retry-After": {"tomorrow"}}, time.Minute, 0, false},
		{"clamped", http.Header{"Retry-After": {"86400"}}, 30 * time.Second, 30 * time.Second, true},
		{"clamped date", http.Header{"Retry-After": {date(time.Hour)}}, 30 * time.Second, 30 * time.Second, true},
		{"huge", http.Header{"Retry-After": {"1e300"}}, 30 * time.Second, 30 * time.Second, true},
		{"default ceiling", http.Header{"Retry-After": {"86400"}}, 0, breaker.DefaultMaxRetryAfter, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := breaker.RetryAfter(tt.header, now, tt.ceiling)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}
