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
	"github.com/llmgate/gateway/gatewaytest"
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
			rt := gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{MaxAttempts: 3, Rand: noJitter, Clock: newClock()})))
			resp, call, err := do(context.Background(), rt, false)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tt.want, resp.StatusCode)
			assert.Equal(t, tt.attempts, p.calls.Load())
			assert.Len(t, call.Attempts(), int(tt.attempts), "one attempt recorded per attempt made")
		})
	}
}

// RELIABILITY 6: 400/401/403/404/413/422 are never retried.
func TestRetryNeverRetriesFatal(t *testing.T) {
	for _, status := range []int{400, 401, 402, 403, 404, 413, 422} {
		p := answering("a", status)
		rt := gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{MaxAttempts: 5, Rand: noJitter, Clock: newClock()})))
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
		rt := gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: newClock()})))
		status, err := send(t, rt)
		require.NoError(t, err, "%v", e)
		assert.Equal(t, 200, status)
		assert.EqualValues(t, 3, p.calls.Load())
	}
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
	rt := gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{MaxAttempts: 3, MaxWait: time.Minute, Rand: noJitter, Clock: clk})))
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
	clk := newClock()
	p := answering("a", 429, "Retry-After", "50")
	rt := gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{Deadline: 30 * time.Second, MaxWait: time.Hour, Rand: noJitter, Clock: clk})))
	resp := returnsAtOnce(t, clk, func() *http.Response { return <-runAsync(t, rt, context.Background()) })
	status := resp.StatusCode
	assert.Equal(t, 429, status)
	assert.EqualValues(t, 1, p.calls.Load())
}

// RELIABILITY 5: one deadline covers all attempts.
func TestRetryDeadlineCoversAllAttempts(t *testing.T) {
	clk := newClock()
	p := answering("a", 500)
	rt := gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{MaxAttempts: 10, BaseDelay: 4 * time.Second, MaxDelay: time.Minute,
		Deadline: 10 * time.Second, Rand: func() float64 { return 0.999999 }, Clock: clk})))
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
	rt := gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{MaxAttempts: 5, BaseDelay: time.Second, MaxDelay: 3 * time.Second,
		Rand: func() float64 { return 0.5 }, Budget: must(breaker.NewBudget(breaker.BudgetConfig{MinRetries: 10})), Clock: clk})))
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
// N×(1+max retries), and ≤ 1.2N+MinRetries with the retry budget (the
// default floor is now DefaultBudgetMinRetries, 10).
func TestRetryAmplificationWhenEverythingFails(t *testing.T) {
	const n = 1000
	run := func(budget *breaker.Budget) int64 {
		p := answering("a", 500)
		rt := gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{MaxAttempts: 3, Rand: noJitter, Budget: budget, Clock: newClock()})))
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
	unbounded := run(must(breaker.NewBudget(breaker.BudgetConfig{Ratio: 1, MinRetries: 10 * n, Clock: newClock()})))
	assert.EqualValues(t, n*3, unbounded, "N×(1+max retries) without a binding budget")
	budgeted := run(must(breaker.NewBudget(breaker.BudgetConfig{Clock: newClock()})))
	assert.LessOrEqual(t, budgeted, int64(1.2*n+breaker.DefaultBudgetMinRetries))
	assert.GreaterOrEqual(t, budgeted, int64(n))
	t.Logf("N=%d: %d attempts without a budget, %d with the default budget (%.3f×)", n, unbounded, budgeted, float64(budgeted)/n)
}

// RELIABILITY 11: the caller cancels: no retry.
func TestRetryNeverRetriesCancellation(t *testing.T) {
	p := &fakeProvider{name: "a", fn: func(req *http.Request, _ int64) (*http.Response, error) {
		<-req.Context().Done()
		return nil, req.Context().Err()
	}}
	rt := gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: newClock()})))
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
	p := answering("a", 429, "Retry-After", "1")
	rt := gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: clk})))
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
	// An upload is sent straight to Retry, with no Call (Retry is an
	// ordinary net/http middleware); a chat call comes through the entry
	// point, whose Call makes it idempotent.
	upload := func(rt http.RoundTripper) error {
		req, _ := http.NewRequest(http.MethodPost, "http://gateway.invalid/v1/files", strings.NewReader("data"))
		_, err := rt.RoundTrip(req)
		return err
	}
	tests := []struct {
		name       string
		send       func(rt http.RoundTripper) error
		err        error
		idempotent func(*http.Request) bool
		attempts   int64
	}{
		{"reset on an upload", upload, reset, nil, 1},
		{"timeout on an upload", upload, gateway.ErrUpstreamTimeout, nil, 1},
		{"refused on an upload", upload, refused, nil, 3},
		{"reset on an upload configured idempotent", upload, reset, func(*http.Request) bool { return true }, 3},
		{"reset on a chat call", func(rt http.RoundTripper) error {
			_, _, err := do(context.Background(), rt, false)
			return err
		}, reset, nil, 3},
		{"reset on an upload through the entry point", func(rt http.RoundTripper) error {
			req, _ := http.NewRequest(http.MethodPost, "http://gateway.invalid/v1/files", strings.NewReader("data"))
			_, _, err := doRequest(req, rt)
			return err
		}, reset, nil, 1},
		{"reset with an idempotency key", func(rt http.RoundTripper) error {
			req, _ := http.NewRequest(http.MethodPost, "http://gateway.invalid/v1/files", strings.NewReader("data"))
			req.Header.Set("Idempotency-Key", "k1")
			_, err := rt.RoundTrip(req)
			return err
		}, reset, nil, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &fakeProvider{name: "a", fn: func(*http.Request, int64) (*http.Response, error) { return nil, tt.err }}
			rt := must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Idempotent: tt.idempotent, Clock: newClock()}))(p)
			require.Error(t, tt.send(rt))
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
	rt := must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: newClock()}))(inner)
	req, _ := http.NewRequest(http.MethodPost, "http://gateway.invalid/v1/chat/completions", io.NopCloser(strings.NewReader(`{"model":"m"}`)))
	require.Nil(t, req.GetBody)
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, []string{`{"model":"m"}`, `{"model":"m"}`, `{"model":"m"}`}, bodies)
}

func TestRetryBoundsTheBodyItBuffers(t *testing.T) {
	p := answering("a", 200)
	rt := must(breaker.Retry(breaker.RetryConfig{MaxBodyBytes: 8, Clock: newClock()}))(p)
	req, _ := http.NewRequest(http.MethodPost, "http://gateway.invalid/v1/chat/completions", io.NopCloser(strings.NewReader(`{"model":"m"}`)))
	_, err := rt.RoundTrip(req)
	assert.ErrorIs(t, err, gateway.ErrBodyTooLarge)
	assert.EqualValues(t, 0, p.calls.Load())
}

// Retry over a breaker: the breaker's ErrOpen carries the delay, which the
// retry waits out when the deadline allows.
func TestRetryOverAnOpenBreakerWaitsForItsDelay(t *testing.T) {
	clk := newClock()
	p := statuses("a", 500, 500, 200)
	cb := must(breaker.NewCircuitBreaker("a", breaker.Config{FailureThreshold: 2, HalfOpenProbes: 1, Delay: 5 * time.Second, Clock: clk}))
	rt := gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{MaxAttempts: 4, MaxWait: 5 * time.Second, Rand: noJitter, Clock: clk})), cb.Middleware())
	done := runAsync(t, rt, context.Background())
	clk.BlockUntil(1) // attempts 1, 2 failed, the breaker opened, attempt 3 refused
	assert.EqualValues(t, 2, p.calls.Load())
	clk.Advance(5 * time.Second)
	resp := <-done
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, breaker.Closed, cb.State())
	assert.EqualValues(t, 3, p.calls.Load(), "the refusal sent nothing")
}

var errBoom = errors.New("boom")

func TestRetryNeverReturnsResponseAndError(t *testing.T) {
	body := &trackedBody{Reader: strings.NewReader("x")}
	var calls atomic.Int32
	bad := gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		calls.Add(1)
		return &http.Response{StatusCode: 500, Body: body}, errBoom
	})
	rt := must(breaker.Retry(breaker.RetryConfig{MaxAttempts: 1, Clock: newClock()}))(bad)
	resp, _, err := do(context.Background(), rt, false)
	assert.Nil(t, resp)
	assert.ErrorIs(t, err, errBoom)
	assert.EqualValues(t, 1, body.closes.Load())
}

// The deadline counts from the Call's start, as the entry point stamped it.
func TestRetryDeadlineCountsFromTheCallStart(t *testing.T) {
	clk := newClock()
	p := answering("a", 429, "Retry-After", "30")
	// The call spends 100 s outside Retry (a queue, say) before Retry's
	// first attempt.
	queue := func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			clk.Advance(100 * time.Second)
			return next.RoundTrip(req)
		})
	}
	rt := gateway.Chain(p, queue, must(breaker.Retry(breaker.RetryConfig{Deadline: 2 * time.Minute, MaxWait: time.Hour, Rand: noJitter, Clock: clk})))
	var call *gateway.Call
	resp := returnsAtOnce(t, clk, func() *http.Response { // a 30 s wait would end past 120 s
		resp, c, err := do(context.Background(), rt, false, gateway.WithClock(clk))
		call = c
		if err != nil {
			return &http.Response{StatusCode: -1, Status: err.Error(), Body: http.NoBody}
		}
		resp.Body.Close()
		return resp
	})
	assert.Equal(t, clk.Now().Add(-100*time.Second), call.Start, "the entry point stamped the start")
	assert.Equal(t, 429, resp.StatusCode)
	assert.EqualValues(t, 1, p.calls.Load())
}

func TestRetryHonoursTheCallersDeadline(t *testing.T) {
	// A context deadline is on the wall clock: the fake clock starts there,
	// and the deadline is far enough ahead that the caller's context is
	// still live when Retry decides (a context already done would make the
	// outcome Canceled, and the test prove nothing).
	clk := gatewaytest.NewClock(time.Now())
	p := answering("a", 503, "Retry-After", "7200")
	rt := gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{Deadline: 10 * time.Hour, MaxWait: 10 * time.Hour, Rand: noJitter, Clock: clk})))
	ctx, cancel := context.WithDeadline(context.Background(), clk.Now().Add(time.Hour))
	defer cancel()
	resp := returnsAtOnce(t, clk, func() *http.Response { return <-runAsync(t, rt, ctx) })
	require.NoError(t, ctx.Err())
	assert.Equal(t, 503, resp.StatusCode, "a wait past the caller's deadline is not started")
	assert.Equal(t, "7200", resp.Header.Get("Retry-After"), "Retry-After intact")
	assert.EqualValues(t, 1, p.calls.Load())
}
