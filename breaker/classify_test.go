package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
)

func TestClassifyStatuses(t *testing.T) {
	tests := []struct {
		status int
		want   breaker.Class
	}{
		{200, breaker.Success}, {201, breaker.Success}, {204, breaker.Success}, {304, breaker.Fatal}, {307, breaker.Fatal},
		{400, breaker.Fatal}, {401, breaker.Fatal}, {402, breaker.Fatal}, {403, breaker.Fatal},
		{404, breaker.Fatal}, {405, breaker.Fatal}, {413, breaker.Fatal}, {415, breaker.Fatal}, {422, breaker.Fatal},
		{408, breaker.Retryable}, {409, breaker.Retryable}, {425, breaker.Retryable},
		{429, breaker.RateLimited},
		{500, breaker.Retryable}, {502, breaker.Retryable}, {504, breaker.Retryable}, {520, breaker.Retryable},
		{501, breaker.Fatal}, {505, breaker.Fatal},
		{503, breaker.Overloaded}, {529, breaker.Overloaded},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			resp := &http.Response{StatusCode: tt.status, Body: http.NoBody}
			assert.Equal(t, tt.want, breaker.Classify(nil, resp, nil))
		})
	}
}

// streamFailure returns the error of a stream that ends before its first
// content, as the attempt boundary fails it.
func streamFailure(t *testing.T) error {
	t.Helper()
	p := &fakeProvider{name: "a", fn: func(req *http.Request, _ int64) (*http.Response, error) {
		return streamResponse(req, strings.NewReader(roleEvent)), nil
	}}
	_, _, err := do(context.Background(), p, true)
	require.Error(t, err)
	require.ErrorIs(t, err, gateway.ErrUpstream)
	require.Equal(t, "stream_failed_before_content", gateway.ErrorFor(err).Code)
	return err
}

func TestClassifyErrors(t *testing.T) {
	// A limiter's refusal: a gateway error with status 429.
	limited := &gateway.Error{Status: http.StatusTooManyRequests, Type: "rate_limit_error", Code: "rate_limit_exceeded", Message: "limited"}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	tests := []struct {
		name string
		err  error
		want breaker.Class
	}{
		{"connection refused", refused, breaker.Retryable},
		{"connection reset", reset, breaker.Retryable},
		{"unexpected EOF", io.ErrUnexpectedEOF, breaker.Retryable},
		{"attempt deadline", context.DeadlineExceeded, breaker.Retryable},
		{"wrapped attempt deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), breaker.Retryable},
		{"cancellation", context.Canceled, breaker.Canceled},
		{"upstream timeout", gateway.ErrUpstreamTimeout.WithMessage("t"), breaker.Retryable},
		{"upstream", gateway.ErrorFor(reset), breaker.Retryable},
		{"client closed", gateway.ErrClientClosed, breaker.Canceled},
		{"model not allowed: refused before sending", gateway.ErrModelNotAllowed.WithMessage("gateway: no"), breaker.Canceled},
		{"open circuit", breaker.ErrOpen, breaker.Overloaded},
		{"cooling down", breaker.ErrCoolingDown.WithRetryAfter(1), breaker.RateLimited},
		{"stream failed before content", streamFailure(t), breaker.Retryable},
		{"bulkhead full", breaker.ErrBulkheadFull, breaker.Overloaded},
		{"rate limited", limited, breaker.RateLimited},
		{"wrapped rate limited", fmt.Errorf("limiter: %w", limited), breaker.RateLimited},
		{"hedge lost", breaker.ErrHedgeLost, breaker.Canceled},
		{"no healthy provider", gateway.ErrNoHealthyProvider, breaker.Overloaded},
		{"bad request", gateway.ErrBadRequest, breaker.Fatal},
		{"body too large", gateway.ErrBodyTooLarge, breaker.Fatal},
		{"model not found", gateway.ErrModelNotFound, breaker.Fatal},
		{"anything else", errors.New("tls: bad certificate"), breaker.Retryable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, breaker.Classify(nil, nil, tt.err))
		})
	}
}

func TestClassifyCallerCancellationWinsOverEverything(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://x/v1/chat/completions", nil)
	for _, c := range []struct {
		resp *http.Response
		err  error
	}{
		{nil, context.Canceled},
		{nil, context.DeadlineExceeded},
		{nil, gateway.ErrUpstreamTimeout},
		{&http.Response{StatusCode: 500, Body: http.NoBody}, nil},
	} {
		assert.Equal(t, breaker.Canceled, breaker.Classify(req, c.resp, c.err))
	}

	// The caller's own deadline is the caller's too.
	dctx, dcancel := context.WithTimeout(context.Background(), -1)
	defer dcancel()
	req, _ = http.NewRequestWithContext(dctx, http.MethodPost, "http://x/v1/chat/completions", nil)
	assert.Equal(t, breaker.Canceled, breaker.Classify(req, nil, context.DeadlineExceeded))

	// An attempt's deadline under a live caller is a failure.
	req, _ = http.NewRequestWithContext(context.Background(), http.MethodPost, "http://x/v1/chat/completions", nil)
	assert.Equal(t, breaker.Retryable, breaker.Classify(req, nil, context.DeadlineExceeded))
}

func TestClassMethods(t *testing.T) {
	tests := []struct {
		c                 breaker.Class
		name              string
		retryable, failed bool
	}{
		{breaker.Success, "success", false, false},
		{breaker.Retryable, "retryable", true, true},
		{breaker.Fatal, "fatal", false, false},
		{breaker.RateLimited, "rate_limited", true, false}, // one 429 must not eject a target
		{breaker.Overloaded, "overloaded", true, true},
		{breaker.Canceled, "canceled", false, false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.name, tt.c.String())
		assert.Equal(t, tt.retryable, tt.c.Retryable(), tt.name)
		assert.Equal(t, tt.failed, tt.c.Failure(), tt.name)
	}
	assert.Equal(t, "unknown", breaker.Class(200).String())
}

func TestIsDeadKey(t *testing.T) {
	for status, want := range map[int]bool{401: true, 402: true, 403: true, 400: false, 404: false, 429: false, 500: false, 200: false} {
		assert.Equal(t, want, breaker.IsDeadKey(status), status)
	}
}

func BenchmarkClassifySuccess(b *testing.B) {
	resp := &http.Response{StatusCode: 200, Body: http.NoBody}
	req, _ := http.NewRequest(http.MethodPost, "http://x/v1/chat/completions", nil)
	b.ReportAllocs()
	for b.Loop() {
		if breaker.Classify(req, resp, nil) != breaker.Success {
			b.Fatal("not success")
		}
	}
}
