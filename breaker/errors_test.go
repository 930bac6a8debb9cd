package breaker_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
)

// In client mode a refusal reaches an SDK as an HTTP response; the code it
// reports maps back to this package's sentinels through the root's registry.
func TestErrorFromCodeFindsBreakerSentinels(t *testing.T) {
	tests := []struct {
		code   string
		want   *gateway.Error
		status int
	}{
		{"circuit_open", breaker.ErrOpen, 503},
		{"upstream_cooling_down", breaker.ErrCoolingDown, 429},
		{"stream_failed_before_content", breaker.ErrStreamFailed, 502},
		{"target_busy", breaker.ErrBulkheadFull, 503},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			got := gateway.ErrorFromCode(tt.code)
			require.NotNil(t, got)
			assert.Same(t, tt.want, got)
			assert.Equal(t, tt.status, got.Status)
			assert.Equal(t, tt.code, got.Code)
			derived := tt.want.WithRetryAfter(time.Second).WithCause(errors.New("cause"))
			assert.ErrorIs(t, derived, got, "an error derived from the sentinel matches the code's sentinel")
			assert.Same(t, got, gateway.ErrorFromCode(gateway.ErrorFor(derived).Code))
		})
	}
}

// End to end in client mode: an open breaker's refusal is a 503 whose code
// maps back to ErrOpen.
func TestClientModeRefusalMapsBackToErrOpen(t *testing.T) {
	cb := breaker.NewCircuitBreaker("a", breaker.Config{FailureThreshold: 1, Clock: newClock()})
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
	assert.ErrorIs(t, gateway.ErrorFromCode(body.Error.Code), breaker.ErrOpen)
}
