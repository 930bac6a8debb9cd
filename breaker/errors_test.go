package breaker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
)

// In client mode a refusal reaches an SDK as an HTTP response; the code it
// carries (the X-Llmgate-Error header) maps back to this package's sentinels
// through the root's registry.
func TestErrorFromResponseFindsBreakerSentinels(t *testing.T) {
	tests := []struct {
		code   string
		want   *gateway.Error
		status int
	}{
		{"circuit_open", breaker.ErrOpen, 503},
		{"upstream_cooling_down", breaker.ErrCoolingDown, 429},
		{"target_busy", breaker.ErrBulkheadFull, 503},
		{"hedge_lost", breaker.ErrHedgeLost, 499},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			derived := tt.want.WithRetryAfter(time.Second).WithMessage("refused")
			refusing := gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
				req.Body.Close()
				return nil, fmt.Errorf("inner: %w", derived)
			})
			resp, err := gateway.NewClient(refusing).Post(chatURL, "application/json", strings.NewReader(chatBody(false)))
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Equal(t, tt.code, resp.Header.Get("X-Llmgate-Error"))
			assert.Equal(t, "1", resp.Header.Get("Retry-After"))
			got := gateway.ErrorFromResponse(resp)
			require.NotNil(t, got)
			assert.Same(t, tt.want, got)
			assert.Equal(t, tt.status, gateway.ErrorFor(got).Status)
			assert.Equal(t, tt.code, gateway.ErrorFor(got).Code)
			assert.ErrorIs(t, derived, got, "an error derived from the sentinel matches the code's sentinel")
			assert.Equal(t, tt.code, gateway.ErrorFor(derived).Code)
		})
	}

	// A provider's own error response is not the gateway's, even with a
	// code that looks like one of ours.
	p := answering("a", 503, "X-Llmgate-Error", "circuit_open")
	resp, _, err := do(context.Background(), p, false)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 503, resp.StatusCode)
	assert.Nil(t, gateway.ErrorFromResponse(resp))
}

// End to end in client mode: an open breaker's refusal is a 503 whose code
// maps back to ErrOpen.
func TestClientModeRefusalMapsBackToErrOpen(t *testing.T) {
	cb := must(breaker.NewCircuitBreaker("a", breaker.Config{FailureThreshold: 1, Clock: newClock()}))
	p, err := cb.Acquire()
	require.NoError(t, err)
	p.Done(breaker.Retryable)
	require.Equal(t, breaker.Open, cb.State())

	client := gateway.NewClient(cb.Wrap(answering("a", 200)))
	resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, 503, resp.StatusCode)
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	assert.Equal(t, "circuit_open", body.Error.Code)
	assert.Same(t, breaker.ErrOpen, gateway.ErrorFromResponse(resp))
}

// When Retry gives up on a stream that failed before its first content
// every time, client mode answers with the gateway's own 502 (code
// stream_failed_before_content, derived from gateway.ErrUpstream), and
// ErrorFromResponse must tell it from a provider's 502. Regression: the code
// was not registered, so ErrorFromResponse returned nil for it.
func TestClientModeStreamFailureMapsBackToErrUpstream(t *testing.T) {
	p := &fakeProvider{name: "a", fn: func(req *http.Request, _ int64) (*http.Response, error) {
		return streamResponse(req, strings.NewReader(roleEvent)), nil // ends before any content
	}}
	rt := gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{MaxAttempts: 2, Rand: noJitter, Clock: newClock()})))
	resp, err := gateway.NewClient(rt).Post(chatURL, "application/json", strings.NewReader(chatBody(true)))
	require.NoError(t, err)
	resp.Body.Close()
	assert.EqualValues(t, 2, p.calls.Load())
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	assert.Equal(t, "stream_failed_before_content", resp.Header.Get("X-Llmgate-Error"))
	got := gateway.ErrorFromResponse(resp)
	require.NotNil(t, got, "the gateway wrote this response")
	assert.ErrorIs(t, got, gateway.ErrUpstream)
}
