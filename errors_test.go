package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

type errorJSON struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    string  `json:"code"`
	} `json:"error"`
}

func TestErrorsDeriveFromTheirSentinel(t *testing.T) {
	cause := errors.New("dial tcp 10.0.0.1:443: refused")
	err := gateway.ErrRateLimited.WithMessage("gateway: slow down").WithRetryAfter(1500 * time.Millisecond).WithCause(cause)
	assert.ErrorIs(t, err, gateway.ErrRateLimited)
	assert.NotErrorIs(t, err, gateway.ErrBudgetExceeded, "same status, different kind")
	assert.ErrorIs(t, err, cause)
	assert.Equal(t, "gateway: slow down", err.Error(), "the cause never shows")
	assert.Equal(t, "gateway: rate limit exceeded", gateway.ErrRateLimited.Message, "sentinels are not modified")
	wrapped := fmt.Errorf("limiter: %w", err)
	assert.Same(t, err, gateway.ErrorFor(wrapped))
}

func TestErrorForMapsEveryError(t *testing.T) {
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{context.Canceled, 499, "client_closed"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), 504, "upstream_timeout"},
		{&http.MaxBytesError{Limit: 10}, 413, "request_too_large"},
		{errors.New("dial tcp: connection refused ?key=secret"), 502, "upstream_error"},
		{gateway.ErrNoHealthyProvider, 503, "no_healthy_provider"},
	}
	for _, tt := range tests {
		ge := gateway.ErrorFor(tt.err)
		assert.Equal(t, tt.status, ge.Status, tt.err.Error())
		assert.Equal(t, tt.code, ge.Code)
		assert.NotContains(t, ge.Message, "secret")
	}
	assert.Nil(t, gateway.ErrorFor(nil))
}

func TestWriteErrorWritesOpenAIShape(t *testing.T) {
	rec := httptest.NewRecorder()
	gateway.WriteError(rec, gateway.ErrRateLimited.WithRetryAfter(1200*time.Millisecond))
	assert.Equal(t, 429, rec.Code)
	assert.Equal(t, "2", rec.Header().Get("Retry-After"), "rounded up to whole seconds")
	assert.Equal(t, "1200", rec.Header().Get("Retry-After-Ms"))
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var body errorJSON
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	assert.Equal(t, "rate_limit_exceeded", body.Error.Code)
	assert.Equal(t, "rate_limit_error", body.Error.Type)
	assert.Equal(t, "gateway: rate limit exceeded", body.Error.Message)

	rec = httptest.NewRecorder()
	gateway.WriteError(rec, gateway.ErrBadRequest)
	assert.Empty(t, rec.Header().Get("Retry-After"))
}

func TestErrorResponseAndErrorFromCode(t *testing.T) {
	req := httptest.NewRequest("POST", "/v1/chat/completions", nil)
	resp := gateway.ErrorResponse(req, gateway.ErrNoHealthyProvider.WithRetryAfter(3*time.Second))
	defer resp.Body.Close()
	assert.Equal(t, 503, resp.StatusCode)
	assert.Equal(t, "3", resp.Header.Get("Retry-After"))
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var body errorJSON
	require.NoError(t, json.Unmarshal(b, &body))
	assert.ErrorIs(t, gateway.ErrorFromCode(body.Error.Code), gateway.ErrNoHealthyProvider)
	assert.Nil(t, gateway.ErrorFromCode("nope"))
}

// Registered once per process, as a package's sentinels are.
var errTestOpen = gateway.NewSentinel(503, "service_unavailable", "circuit_open_test", "breaker: open")

func TestNewSentinel(t *testing.T) {
	errOpen := errTestOpen
	err := errOpen.WithMessage("breaker: open for openai")
	assert.ErrorIs(t, err, errOpen)
	assert.NotErrorIs(t, err, gateway.ErrNoHealthyProvider)
	assert.Equal(t, 503, gateway.ErrorFor(err).Status)
	assert.Same(t, errOpen, gateway.ErrorFromCode("circuit_open_test"))
	assert.Panics(t, func() { gateway.NewSentinel(503, "x", "circuit_open_test", "again") })
}
