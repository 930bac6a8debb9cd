package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

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
	err := gateway.ErrorFor(cause).WithMessage("gateway: slow down").WithRetryAfter(1500 * time.Millisecond)
	assert.ErrorIs(t, err, gateway.ErrUpstream)
	assert.NotErrorIs(t, err, gateway.ErrInternal, "a kind of its own")
	assert.ErrorIs(t, err, cause, "the cause stays reachable")
	assert.Equal(t, "gateway: slow down", err.Error(), "the cause never shows")
	assert.Equal(t, "gateway: upstream failed", gateway.ErrUpstream.Message, "sentinels are not modified")
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
