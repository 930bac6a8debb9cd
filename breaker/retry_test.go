package breaker_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
)

func TestRetryExactAttemptCounts(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int
		attempts int64
		want     int
	}{
		{"success at once", []int{200}, 1, 200},
		{"500 then success", []int{500, 200}, 2, 200},
		{"503 503 then success", []int{503, 503, 200}, 3, 200},
		{"always 500", []int{500}, 3, 500},
		{"always 502", []int{502}, 3, 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := statuses("a", tt.statuses...)
			rt := breaker.Retry(breaker.RetryConfig{MaxAttempts: 3, Rand: noJitter, Clock: newClock()})(p)
			status, err := send(t, rt)
			require.NoError(t, err)
			assert.Equal(t, tt.want, status)
			assert.Equal(t, tt.attempts, p.calls.Load())
		})
	}
}

// RELIABILITY 6: 400/401/403/404/413/422 are never retried.
func TestRetryNeverRetriesFatal(t *testing.T) {
	for _, status := range []int{400, 401, 402, 403, 404, 413, 422} {
		p := answering("a", status)
		rt := breaker.Retry(breaker.RetryConfig{MaxAttempts: 5, Rand: noJitter, Clock: newClock()})(p)
		got, err := send(t, rt)
		require.NoError(t, err)
		assert.Equal(t, status, got)
		assert.EqualValues(t, 1, p.calls.Load(), "status %d", status)
	}
}

// RELIABILITY 2: connection refused and timeouts are failures, retried.
func TestRetryRetriesRefusedAndTimeouts(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, e := range []error{refused, gateway.ErrUpstreamTimeout.WithMessage("t"), context.DeadlineExceeded} {
		p := &fakeProvider{name: "a", fn: func(req *http.Request, n int64) (*http.Response, error) {
			if n < 3 {
				return nil, e
			}
			return respond(req, 200), nil
		}}
		rt := breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: newClock()})(p)
		status, err := send(t, rt)
		require.NoError(t, err, "%v", e)
		assert.Equal(t, 200, status)
		assert.EqualValues(t, 3, p.calls.Load())
	}
}

// runAsync runs one call through rt in a goroutine.
func runAsync(t *testing.T, rt http.RoundTripper, ctx context.Context) <-chan *http.Response {
	out := make(chan *http.Response, 1)
	req, _ := chatRequest(t, ctx, false)
	go func() {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			resp = &http.Response{StatusCode: -1, Status: err.Error(), Body: http.NoBody}
		}
		out <- resp
	}()
	return out
}

// RELIABILITY 3: no attempt inside a Retry-After window; the latest
// attempt's header governs.
func TestRetryHonoursTheLatestRetryAfter(t *testing.T) {
	clk := newClock()
	p := &fakeProvider{name: "a", fn: func(req *http.Request, n int64) (*http.Response, error) {
		switch n {
		case 1:
			return respond(req, 429, "Retry-After", "20"), nil
		case 2:
			return respond(req, 503, "Retry-After-Ms", "3000"), nil
		}
		return respond(req, 200), nil
	}}
	rt := breaker.Retry(breaker.RetryConfig{MaxAttempts: 3, Rand: noJitter, Clock: clk})(p)
	done := runAsync(t, rt, context.Background())

	clk.BlockUntil(1)
	assert.EqualValues(t, 1, p.calls.Load())
	clk.Advance(19*time.Second + 999*time.Millisecond)
	assert.EqualValues(t, 1, p.calls.Load(), "inside the 20 s window")
	clk.Advance(time.Millisecond)
	eventually(t, func() bool { return p.calls.Load() == 2 }, "second attempt")
	clk.BlockUntil(1)
	clk.Advance(2999 * time.Millisecond)
	assert.EqualValues(t, 2, p.calls.Load(), "inside the 3 s window of the latest answer")
	clk.Advance(time.Millisecond)
	resp := <-done
	assert.Equal(t, 200, resp.StatusCode)
	assert.EqualValues(t, 3, p.calls.Load())
}

func TestRetryReturnsRetryAfterPastTheDeadlineAtOnce(t *testing.T) {
	p := answering("a", 429, "Retry-After", "50")
	rt := breaker.Retry(breaker.RetryConfig{Deadline: 30 * time.Second, Rand: noJitter, Clock: newClock()})(p)
	status, err := send(t, rt) // the fake clock never moves: waiting would hang
	require.NoError(t, err)
	assert.Equal(t, 429, status)
	assert.EqualValues(t, 1, p.calls.Load())
}

// RELIABILITY 5: one deadline covers all attempts.
func TestRetryDeadlineCoversAllAttempts(t *testing.T) {
	clk := newClock()
	p := answering("a", 500)
	rt := breaker.Retry(breaker.RetryConfig{MaxAttempts: 10, BaseDelay: 4 * time.Second, MaxDelay: time.Minute,
		Deadline: 10 * time.Second, Rand: func() float64 { return 0.999999 }, Clock: clk})(p)
	done := runAsync(t, rt, context.Background())
	clk.BlockUntil(1) // waits ~4 s after attempt 1
	clk.Advance(4 * time.Second)
	resp := <-done // the next wait, ~8 s, would end past the 10 s deadline
	assert.Equal(t, 500, resp.StatusCode)
	assert.EqualValues(t, 2, p.calls.Load())
}

func TestRetryBackoffIsFullJitterAndCapped(t *testing.T) {
	clk := newClock()
	p := answering("a", 500)
	rt := breaker.Retry(breaker.RetryConfig{MaxAttempts: 5, BaseDelay: time.Second, MaxDelay: 3 * time.Second,
		Rand: func() float64 { return 0.5 }, Budget: breaker.NewBudget(breaker.BudgetConfig{MinRetries: 10}), Clock: clk})(p)
	done := runAsync(t, rt, context.Background())
	for i, wait := range []time.Duration{500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 1500 * time.Millisecond} {
		clk.BlockUntil(1)
		clk.Advance(wait - time.Millisecond)
		assert.EqualValues(t, i+1, p.calls.Load())
		clk.Advance(time.Millisecond)
		eventually(t, func() bool { return p.calls.Load() == int64(i+2) }, "next attempt")
	}
	assert.Equal(t, 500, (<-done).StatusCode)
}

// RELIABILITY 5: everything returns 500, N=1000 concurrent: attempts ≤
// N×(1+max retries), and ≤ 1.2N+3 with the retry budget.
func TestRetryAmplificationWhenEverythingFails(t *testing.T) {
	const n = 1000
	run := func(budget *breaker.Budget) int64 {
		p := answering("a", 500)
		rt := breaker.Retry(breaker.RetryConfig{MaxAttempts: 3, Rand: noJitter, Budget: budget, Clock: newClock()})(p)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				status, err := send(t, rt)
				assert.NoError(t, err)
				assert.Equal(t, 500, status)
			})
		}
		wg.Wait()
		return p.calls.Load()
	}
	unbounded := run(breaker.NewBudget(breaker.BudgetConfig{Ratio: 1, MinRetries: 10 * n, Clock: newClock()}))
	assert.EqualValues(t, n*3, unbounded, "N×(1+max retries) without a binding budget")
	budgeted := run(breaker.NewBudget(breaker.BudgetConfig{Clock: newClock()}))
	assert.LessOrEqual(t, budgeted, int64(1.2*n+3))
	assert.GreaterOrEqual(t, budgeted, int64(n))
	t.Logf("N=%d: %d attempts without a budget, %d with the default budget (%.3f×)", n, unbounded, budgeted, float64(budgeted)/n)
}

// RELIABILITY 11: the caller cancels: no retry.
func TestRetryNeverRetriesCancellation(t *testing.T) {
	p := &fakeProvider{name: "a", fn: func(req *http.Request, _ int64) (*http.Response, error) {
		<-req.Context().Done()
		return nil, req.Context().Err()
	}}
	rt := breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: newClock()})(p)
	ctx, cancel := context.WithCancel(context.Background())
	done := runAsync(t, rt, ctx)
	eventually(t, func() bool { return p.calls.Load() == 1 }, "first attempt")
	cancel()
	resp := <-done
	assert.Equal(t, -1, resp.StatusCode)
	assert.Contains(t, resp.Status, "context canceled")
	assert.EqualValues(t, 1, p.calls.Load())
}

func TestRetryCancellationDuringBackoff(t *testing.T) {
	clk := newClock()
	p := answering("a", 429, "Retry-After", "10")
	rt := breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: clk})(p)
	ctx, cancel := context.WithCancel(context.Background())
	done := runAsync(t, rt, ctx)
	clk.BlockUntil(1)
	cancel()
	resp := <-done
	assert.Equal(t, -1, resp.StatusCode)
	assert.EqualValues(t, 1, p.calls.Load())
}

// RELIABILITY 7: ambiguous failures are not retried on non-idempotent calls
// unless configured.
func TestRetryAmbiguousFailures(t *testing.T) {
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	upload := func() *http.Request {
		req, _ := http.NewRequest(http.MethodPost, "http://gateway.invalid/v1/files", strings.NewReader("data"))
		return req
	}
	tests := []struct {
		name       string
		req        func() *http.Request
		err        error
		idempotent func(*http.Request) bool
		attempts   int64
	}{
		{"reset on an upload", upload, reset, nil, 1},
		{"timeout on an upload", upload, gateway.ErrUpstreamTimeout, nil, 1},
		{"refused on an upload", upload, refused, nil, 3},
		{"reset on an upload configured idempotent", upload, reset, func(*http.Request) bool { return true }, 3},
		{"reset on a chat call", func() *http.Request { r, _ := chatRequest(t, context.Background(), false); return r }, reset, nil, 3},
		{"reset with an idempotency key", func() *http.Request {
			r := upload()
			r.Header.Set("Idempotency-Key", "k1")
			return r
		}, reset, nil, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &fakeProvider{name: "a", fn: func(*http.Request, int64) (*http.Response, error) { return nil, tt.err }}
			rt := breaker.Retry(breaker.RetryConfig{Rand: noJitter, Idempotent: tt.idempotent, Clock: newClock()})(p)
			_, err := rt.RoundTrip(tt.req())
			require.Error(t, err)
			assert.Equal(t, tt.attempts, p.calls.Load())
		})
	}
}

func TestRetryReplaysABodyWithoutGetBody(t *testing.T) {
	var bodies []string
	var mu sync.Mutex
	p := &fakeProvider{name: "a"}
	p.fn = func(req *http.Request, n int64) (*http.Response, error) {
		return respond(req, []int{500, 502, 200}[n-1]), nil
	}
	inner := gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(req.Body)
		req.Body.Close()
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		return p.RoundTrip(req)
	})
	rt := breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: newClock()})(inner)
	req, _ := http.NewRequest(http.MethodPost, "http://gateway.invalid/v1/chat/completions", io.NopCloser(strings.NewReader(`{"model":"m"}`)))
	require.Nil(t, req.GetBody)
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, []string{`{"model":"m"}`, `{"model":"m"}`, `{"model":"m"}`}, bodies)
}

func TestRetryBoundsTheBodyItBuffers(t *testing.T) {
	p := answering("a", 200)
	rt := breaker.Retry(breaker.RetryConfig{MaxBodyBytes: 8, Clock: newClock()})(p)
	req, _ := http.NewRequest(http.MethodPost, "http://gateway.invalid/v1/chat/completions", io.NopCloser(strings.NewReader(`{"model":"m"}`)))
	_, err := rt.RoundTrip(req)
	assert.ErrorIs(t, err, gateway.ErrBodyTooLarge)
	assert.EqualValues(t, 0, p.calls.Load())
}

func TestRetryRecordsAttemptsOverAProvider(t *testing.T) {
	p := statuses("sim-a", 500, 503, 200)
	rt := breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: newClock()})(p)
	req, call := chatRequest(t, context.Background(), false)
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	got := call.Attempts()
	require.Len(t, got, 3)
	for i, want := range []int{500, 503, 200} {
		assert.Equal(t, i+1, got[i].N)
		assert.Equal(t, "sim-a", got[i].Target)
		assert.Equal(t, "m", got[i].Model)
		assert.Equal(t, want, got[i].Status)
	}
	assert.Equal(t, "retryable", got[0].Err)
	assert.Equal(t, "overloaded", got[1].Err)
	assert.Empty(t, got[2].Err)

	// The per-target middlewares keep the provider's name: still recorded,
	// except attempts they refused before sending anything.
	clk := newClock()
	p2 := statuses("sim-b", 500, 500, 200)
	cb := breaker.NewCircuitBreaker("b", breaker.Config{FailureThreshold: 2, HalfOpenProbes: 1, Delay: time.Second, Clock: clk})
	wrapped := gateway.Chain(p2, cb.Middleware(), breaker.Timeouts(breaker.TimeoutConfig{Clock: clk}))
	_, isProvider := wrapped.(gateway.Provider)
	require.True(t, isProvider)
	rt = breaker.Retry(breaker.RetryConfig{MaxAttempts: 3, Rand: noJitter, Clock: clk, Deadline: time.Millisecond})(wrapped)
	req, call = chatRequest(t, context.Background(), false)
	resp, err = rt.RoundTrip(req)
	require.ErrorIs(t, err, breaker.ErrOpen, "attempt 3 refused by the open breaker")
	got = call.Attempts()
	require.Len(t, got, 2, "the refusal is not an attempt")
	assert.Equal(t, "sim-b", got[0].Target)
	assert.Equal(t, 500, got[1].Status)

	// Over anything else, whoever dispatches inside records.
	p3 := statuses("sim-c", 500, 200)
	rt = breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: newClock()})(gateway.RoundTripperFunc(p3.RoundTrip))
	req, call = chatRequest(t, context.Background(), false)
	resp, err = rt.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Empty(t, call.Attempts())
	assert.EqualValues(t, 2, p3.calls.Load())
}

// Retry over a breaker: the breaker's ErrOpen carries the delay, which the
// retry waits out when the deadline allows.
func TestRetryOverAnOpenBreakerWaitsForItsDelay(t *testing.T) {
	clk := newClock()
	p := statuses("a", 500, 500, 200)
	cb := breaker.NewCircuitBreaker("a", breaker.Config{FailureThreshold: 2, HalfOpenProbes: 1, Delay: 5 * time.Second, Clock: clk})
	rt := breaker.Retry(breaker.RetryConfig{MaxAttempts: 4, Rand: noJitter, Clock: clk})(cb.Wrap(p))
	done := runAsync(t, rt, context.Background())
	clk.BlockUntil(1) // attempts 1, 2 failed, the breaker opened, attempt 3 refused
	assert.EqualValues(t, 2, p.calls.Load())
	clk.Advance(5 * time.Second)
	resp := <-done
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, breaker.Closed, cb.State())
}

func TestRetryRejectsBadConfig(t *testing.T) {
	for _, cfg := range []breaker.RetryConfig{{MaxAttempts: -1}, {BaseDelay: -1}, {BaseDelay: time.Second, MaxDelay: time.Millisecond}, {Deadline: -1}} {
		assert.Panics(t, func() { breaker.Retry(cfg) }, "%+v", cfg)
	}
	assert.Panics(t, func() { breaker.Retry(breaker.RetryConfig{})(nil) })
}

var errBoom = errors.New("boom")

func TestRetryNeverReturnsResponseAndError(t *testing.T) {
	body := &trackedBody{Reader: strings.NewReader("x")}
	var calls atomic.Int32
	bad := gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		calls.Add(1)
		return &http.Response{StatusCode: 500, Body: body}, errBoom
	})
	rt := breaker.Retry(breaker.RetryConfig{MaxAttempts: 1, Clock: newClock()})(bad)
	req, _ := chatRequest(t, context.Background(), false)
	resp, err := rt.RoundTrip(req)
	assert.Nil(t, resp)
	assert.ErrorIs(t, err, errBoom)
	assert.EqualValues(t, 1, body.closes.Load())
}

// The deadline counts from the Call's start, as the entry point stamped it.
func TestRetryDeadlineCountsFromTheCallStart(t *testing.T) {
	clk := newClock()
	p := answering("a", 429, "Retry-After", "30")
	rt := breaker.Retry(breaker.RetryConfig{Deadline: 2 * time.Minute, Rand: noJitter, Clock: clk})(p)
	req, call := chatRequest(t, context.Background(), false)
	call.Start = clk.Now().Add(-100 * time.Second) // the call has been going for 100 s
	resp, err := rt.RoundTrip(req)                 // a 30 s wait would end past 120 s
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 429, resp.StatusCode)
	assert.EqualValues(t, 1, p.calls.Load())
}

func TestRetryHonoursTheCallersDeadline(t *testing.T) {
	clk := newClock()
	p := answering("a", 503, "Retry-After", "5")
	rt := breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: clk})(p)
	ctx, cancel := context.WithDeadline(context.Background(), clk.Now().Add(3*time.Second))
	defer cancel()
	req, _ := chatRequest(t, ctx, false)
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 503, resp.StatusCode, "a wait past the caller's deadline is not started")
	assert.EqualValues(t, 1, p.calls.Load())
}
