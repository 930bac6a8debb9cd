package breaker_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
)

var _ http.RoundTripper = must(breaker.NewCircuitBreaker("x", breaker.Config{})).Wrap(http.DefaultTransport)

func TestBreakerOpensAfterConsecutiveFailuresNotOne(t *testing.T) {
	clk := newClock()
	p := answering("a", 500)
	var changes []string
	cb := must(breaker.NewCircuitBreaker("a", breaker.Config{Clock: clk,
		OnStateChange: func(from, to breaker.State) { changes = append(changes, from.String()+"->"+to.String()) }}))
	rt := cb.Wrap(p)

	for range breaker.DefaultFailureThreshold - 1 {
		status, err := send(t, rt)
		require.NoError(t, err)
		assert.Equal(t, 500, status)
		assert.Equal(t, breaker.Closed, cb.State(), "one failure must not open the breaker")
	}
	_, _ = send(t, rt)
	assert.Equal(t, breaker.Open, cb.State())
	assert.Equal(t, []string{"closed->open"}, changes)

	for range 100 {
		_, err := send(t, rt)
		require.ErrorIs(t, err, breaker.ErrOpen)
	}
	assert.EqualValues(t, breaker.DefaultFailureThreshold, p.calls.Load(), "an open breaker sends nothing")

	_, err := send(t, rt)
	var ge *gateway.Error
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, http.StatusServiceUnavailable, ge.Status)
	assert.Equal(t, "circuit_open", ge.Code)
	assert.Equal(t, breaker.DefaultDelay, ge.RetryAfter)
	assert.False(t, cb.Ready())
}

func TestBreakerFailureRateOverCountWindow(t *testing.T) {
	p := statuses("a") // replaced below
	var i atomic.Int64
	p.fn = func(req *http.Request, _ int64) (*http.Response, error) {
		if i.Add(1)%2 == 0 { // every other call fails: never 2 in a row
			return respond(req, 502), nil
		}
		return respond(req, 200), nil
	}
	cb := must(breaker.NewCircuitBreaker("a", breaker.Config{FailureThreshold: 100, FailureRateThreshold: 0.5,
		FailureThresholdWindow: 10, MinCalls: 10, Clock: newClock()}))
	rt := cb.Wrap(p)
	for range 9 {
		_, _ = send(t, rt)
	}
	assert.Equal(t, breaker.Closed, cb.State(), "fewer than MinCalls results")
	_, _ = send(t, rt)
	assert.Equal(t, breaker.Open, cb.State(), "5 of the last 10 failed")
}

func TestBreakerFailureRateOverTimeWindow(t *testing.T) {
	clk := newClock()
	p := answering("a", 500)
	cb := must(breaker.NewCircuitBreaker("a", breaker.Config{FailureThreshold: 100, FailureRateThreshold: 0.5,
		FailureThresholdPeriod: 10 * time.Second, MinCalls: 4, Clock: clk}))
	rt := cb.Wrap(p)
	_, _ = send(t, rt)
	_, _ = send(t, rt)
	_, _ = send(t, rt)
	clk.Advance(11 * time.Second) // those three leave the window
	_, _ = send(t, rt)
	_, _ = send(t, rt)
	_, _ = send(t, rt)
	assert.Equal(t, breaker.Closed, cb.State(), "3 results in the window")
	_, _ = send(t, rt)
	assert.Equal(t, breaker.Open, cb.State())
}

func TestBreakerOneRateLimitDoesNotEject(t *testing.T) {
	clk := newClock()
	p := answering("a", 429)
	cb := must(breaker.NewCircuitBreaker("a", breaker.Config{Clock: clk}))
	rt := cb.Wrap(p)
	for range 50 {
		status, err := send(t, rt)
		require.NoError(t, err)
		assert.Equal(t, 429, status)
		clk.Advance(breaker.DefaultCooldown) // past the cooldown each 429 starts
	}
	assert.EqualValues(t, 50, p.calls.Load())
	assert.Equal(t, breaker.Closed, cb.State(), "429s are not failures")
}

func TestBreakerFatalIsNotAFailure(t *testing.T) {
	cb := must(breaker.NewCircuitBreaker("a", breaker.Config{Clock: newClock()}))
	rt := cb.Wrap(answering("a", 400))
	for range 50 {
		_, _ = send(t, rt)
	}
	assert.Equal(t, breaker.Closed, cb.State())
}

func TestBreakerSuccessResetsConsecutiveCount(t *testing.T) {
	p := statuses("a", 500, 500, 500, 500, 200, 500, 500, 500, 500, 200)
	cb := must(breaker.NewCircuitBreaker("a", breaker.Config{Clock: newClock()}))
	rt := cb.Wrap(p)
	for range 10 {
		_, _ = send(t, rt)
	}
	assert.Equal(t, breaker.Closed, cb.State())
}

// openBreaker returns a breaker opened by failures of another wrap (wraps
// share the breaker's state), and the breaker over p.
func openBreaker(t *testing.T, clk gateway.Clock, p *fakeProvider, cfg breaker.Config) (*breaker.CircuitBreaker, http.RoundTripper) {
	t.Helper()
	cfg.Clock = clk
	cb := must(breaker.NewCircuitBreaker(p.name, cfg))
	rt := cb.Wrap(p)
	for i := 0; cb.State() == breaker.Closed; i++ {
		require.Less(t, i, 100, "the breaker never opened")
		_, err := send(t, cb.Wrap(answering("x", 500)))
		require.NoError(t, err)
	}
	return cb, rt
}

// RELIABILITY 12: 100 goroutines arrive as the breaker turns half-open;
// exactly K probes reach the provider.
func TestBreakerExactlyKProbesFrom100Goroutines(t *testing.T) {
	const k = 3
	clk := newClock()
	release := make(chan struct{})
	var arrived atomic.Int32
	p := &fakeProvider{name: "a", fn: func(req *http.Request, _ int64) (*http.Response, error) {
		arrived.Add(1)
		<-release
		return respond(req, 200), nil
	}}
	var mu sync.Mutex
	var changes []string
	cb, rt := openBreaker(t, clk, p, breaker.Config{HalfOpenProbes: k, Delay: 10 * time.Second,
		OnStateChange: func(from, to breaker.State) {
			mu.Lock()
			changes = append(changes, from.String()+"->"+to.String())
			mu.Unlock()
		}})
	clk.Advance(10 * time.Second)

	var wg sync.WaitGroup
	var refused atomic.Int32
	start := make(chan struct{})
	for range 100 {
		wg.Go(func() {
			<-start
			if _, err := send(t, rt); errors.Is(err, breaker.ErrOpen) {
				refused.Add(1)
			}
		})
	}
	close(start)
	eventually(t, func() bool { return refused.Load()+arrived.Load() == 100 }, "every goroutine answered or waiting")
	assert.EqualValues(t, k, arrived.Load())
	assert.EqualValues(t, 100-k, refused.Load())
	assert.False(t, cb.Ready(), "no probe left")
	close(release)
	wg.Wait()
	assert.EqualValues(t, k, p.calls.Load())
	assert.Equal(t, breaker.Closed, cb.State(), "k successful probes close it")
	mu.Lock()
	assert.Equal(t, []string{"closed->open", "open->half-open", "half-open->closed"}, changes)
	mu.Unlock()
}

func TestBreakerFailedProbeReopens(t *testing.T) {
	clk := newClock()
	p := answering("a", 503)
	cb, rt := openBreaker(t, clk, p, breaker.Config{Delay: 10 * time.Second})
	clk.Advance(10 * time.Second)
	assert.Equal(t, breaker.HalfOpen, cb.State())
	assert.True(t, cb.Ready())
	status, err := send(t, rt)
	require.NoError(t, err)
	assert.Equal(t, 503, status)
	assert.Equal(t, breaker.Open, cb.State())
	_, err = send(t, rt)
	assert.ErrorIs(t, err, breaker.ErrOpen)
	assert.EqualValues(t, 1, p.calls.Load(), "one probe, then open again for a whole delay")
	clk.Advance(9 * time.Second)
	_, err = send(t, rt)
	assert.ErrorIs(t, err, breaker.ErrOpen)
	clk.Advance(time.Second)
	_, _ = send(t, rt)
	assert.EqualValues(t, 2, p.calls.Load())
}

// RELIABILITY 12: a panicking classifier leaks no permit.
func TestBreakerPanickingClassifierLeaksNoProbe(t *testing.T) {
	clk := newClock()
	var panicking atomic.Bool
	cfg := breaker.Config{HalfOpenProbes: 1, Delay: time.Second, Classify: func(req *http.Request, resp *http.Response, err error) breaker.Class {
		if panicking.Load() {
			panic("classifier bug")
		}
		return breaker.Classify(req, resp, err)
	}}
	body := &trackedBody{}
	p := &fakeProvider{name: "a", fn: func(req *http.Request, _ int64) (*http.Response, error) {
		r := respond(req, 200)
		body = r.Body.(*trackedBody)
		return r, nil
	}}
	cb, rt := openBreaker(t, clk, p, cfg)
	clk.Advance(time.Second)
	panicking.Store(true)
	assert.Panics(t, func() { _, _ = send(t, rt) })
	assert.EqualValues(t, 1, body.closes.Load(), "the response is closed")
	panicking.Store(false)
	assert.True(t, cb.Ready(), "the probe's place was given back")
	status, err := send(t, rt)
	require.NoError(t, err)
	assert.Equal(t, 200, status)
	assert.Equal(t, breaker.Closed, cb.State())
}

// RELIABILITY 11: the caller's cancellation is never a breaker failure.
func TestBreakerCancellationIsNeverAFailure(t *testing.T) {
	p := &fakeProvider{name: "a", fn: func(req *http.Request, _ int64) (*http.Response, error) {
		<-req.Context().Done()
		return nil, req.Context().Err()
	}}
	clk := newClock()
	cb := must(breaker.NewCircuitBreaker("a", breaker.Config{Clock: clk}))
	rt := cb.Wrap(p)
	for range 20 {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, _, err := do(ctx, rt, false)
		require.ErrorIs(t, err, context.Canceled)
	}
	assert.Equal(t, breaker.Closed, cb.State())

	// A cancelled probe gives its place back too.
	cb2, rt2 := openBreaker(t, clk, p, breaker.Config{HalfOpenProbes: 1, Delay: time.Second})
	clk.Advance(time.Second)
	for range 5 {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, _, err := do(ctx, rt2, false)
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, breaker.HalfOpen, cb2.State())
	}
	assert.True(t, cb2.Ready())
}

// RELIABILITY 3: a 429 with Retry-After: nothing reaches the target inside
// the window (the Retry-After's, not Cooldown's).
func TestBreakerCoolsDownForRetryAfter(t *testing.T) {
	clk := newClock()
	p := statuses("a", 429, 200)
	p.fn = func(req *http.Request, n int64) (*http.Response, error) {
		if n == 1 {
			return respond(req, 429, "Retry-After", "20"), nil
		}
		return respond(req, 200), nil
	}
	cb := must(breaker.NewCircuitBreaker("a", breaker.Config{Cooldown: 3 * time.Second, Clock: clk}))
	rt := cb.Wrap(p)
	status, _ := send(t, rt)
	assert.Equal(t, 429, status)
	for range 10 {
		_, err := send(t, rt)
		var ge *gateway.Error
		require.ErrorAs(t, err, &ge)
		assert.ErrorIs(t, err, breaker.ErrCoolingDown)
		assert.Equal(t, 429, ge.Status)
		assert.Positive(t, ge.RetryAfter)
		assert.Equal(t, breaker.RateLimited, breaker.Classify(nil, nil, err))
		clk.Advance(time.Second)
	}
	assert.EqualValues(t, 1, p.calls.Load(), "nothing inside the window")
	clk.Advance(10 * time.Second)
	status, err := send(t, rt)
	require.NoError(t, err)
	assert.Equal(t, 200, status)
	assert.Equal(t, breaker.Closed, cb.State())
}

// A 429 cools the breaker down even without a Retry-After: for
// Config.Cooldown (DefaultCooldown, 1 s, when unset); with one, for the
// Retry-After. Inside the window every call is refused with ErrCoolingDown
// and nothing reaches the target; at its end calls pass again. A 503 without
// a Retry-After starts no cooldown (it is a failure, counted instead).
func TestBreakerCooldownAfter429(t *testing.T) {
	tests := []struct {
		name     string
		cooldown time.Duration // Config.Cooldown
		status   int
		header   []string
		want     time.Duration // 0: no cooldown
	}{
		{"429 without Retry-After, default Cooldown", 0, 429, nil, breaker.DefaultCooldown},
		{"429 without Retry-After, Cooldown set", 3 * time.Second, 429, nil, 3 * time.Second},
		{"429 with Retry-After", 3 * time.Second, 429, []string{"Retry-After", "20"}, 20 * time.Second},
		{"429 with a shorter Retry-After", 3 * time.Second, 429, []string{"Retry-After", "1"}, time.Second},
		{"429 with retry-after-ms", 0, 429, []string{"Retry-After-Ms", "1500"}, 1500 * time.Millisecond},
		{"503 with Retry-After", 0, 503, []string{"Retry-After", "7"}, 7 * time.Second},
		{"503 without Retry-After", 3 * time.Second, 503, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			p := &fakeProvider{name: "a", fn: func(req *http.Request, n int64) (*http.Response, error) {
				if n == 1 {
					return respond(req, tt.status, tt.header...), nil
				}
				return respond(req, 200), nil
			}}
			cb := must(breaker.NewCircuitBreaker("a", breaker.Config{Cooldown: tt.cooldown, Clock: clk}))
			rt := gateway.Chain(p, cb.Middleware())
			status, err := send(t, rt)
			require.NoError(t, err)
			require.Equal(t, tt.status, status)
			if tt.want == 0 {
				assert.True(t, cb.Ready())
				status, err := send(t, rt)
				require.NoError(t, err)
				assert.Equal(t, 200, status, "no cooldown")
				assert.EqualValues(t, 2, p.calls.Load())
				return
			}

			assert.False(t, cb.Ready())
			_, err = send(t, rt)
			var ge *gateway.Error
			require.ErrorAs(t, err, &ge)
			assert.ErrorIs(t, err, breaker.ErrCoolingDown)
			assert.Equal(t, http.StatusTooManyRequests, ge.Status)
			assert.Equal(t, tt.want, ge.RetryAfter, "the refusal tells the whole window")

			clk.Advance(tt.want - time.Millisecond)
			assert.False(t, cb.Ready())
			_, err = send(t, rt)
			require.ErrorAs(t, err, &ge)
			assert.ErrorIs(t, err, breaker.ErrCoolingDown)
			assert.Equal(t, time.Millisecond, ge.RetryAfter, "the time left")
			assert.EqualValues(t, 1, p.calls.Load(), "nothing reaches the target inside the window")

			clk.Advance(time.Millisecond)
			assert.True(t, cb.Ready())
			status, err = send(t, rt)
			require.NoError(t, err)
			assert.Equal(t, 200, status)
			assert.EqualValues(t, 2, p.calls.Load())
			assert.Equal(t, breaker.Closed, cb.State())
		})
	}
}

// Through Retry, a 429 without Retry-After is retried after the breaker's
// cooldown: the refusal's Retry-After (Cooldown) is the wait.
func TestRetryWaitsOutTheCooldownOfA429(t *testing.T) {
	clk := newClock()
	p := statuses("a", 429, 200)
	cb := must(breaker.NewCircuitBreaker("a", breaker.Config{Cooldown: 2 * time.Second, Clock: clk}))
	rt := gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{MaxAttempts: 3, Rand: noJitter, Clock: clk})), cb.Middleware())
	done := runAsync(t, rt, context.Background())
	clk.BlockUntil(1) // attempt 2 refused (cooling down): Retry waits its Retry-After
	assert.EqualValues(t, 1, p.calls.Load())
	clk.Advance(2*time.Second - time.Millisecond)
	assert.EqualValues(t, 1, p.calls.Load())
	clk.Advance(time.Millisecond)
	resp := <-done
	assert.Equal(t, 200, resp.StatusCode)
	assert.EqualValues(t, 2, p.calls.Load())
}

func TestBreakerCooldownIsClamped(t *testing.T) {
	clk := newClock()
	cb := must(breaker.NewCircuitBreaker("a", breaker.Config{MaxRetryAfter: 5 * time.Second, Clock: clk}))
	rt := cb.Wrap(answering("a", 503, "Retry-After", "86400"))
	_, _ = send(t, rt)
	assert.False(t, cb.Ready())
	clk.Advance(5 * time.Second)
	assert.True(t, cb.Ready())
}

func TestBreakerStalePermitIsIgnored(t *testing.T) {
	clk := newClock()
	cb := must(breaker.NewCircuitBreaker("a", breaker.Config{FailureThreshold: 2, HalfOpenProbes: 1, Delay: time.Second, Clock: clk}))
	old, err := cb.Acquire()
	require.NoError(t, err)
	p1, _ := cb.Acquire()
	p2, _ := cb.Acquire()
	p1.Done(breaker.Retryable)
	p2.Done(breaker.Retryable)
	require.Equal(t, breaker.Open, cb.State())
	clk.Advance(time.Second)
	probe, err := cb.Acquire()
	require.NoError(t, err)
	old.Done(breaker.Success) // from the closed state before: ignored
	assert.Equal(t, breaker.HalfOpen, cb.State())
	probe.Done(breaker.Success)
	assert.Equal(t, breaker.Closed, cb.State())
}

func BenchmarkBreakerAcquireDone(b *testing.B) {
	cb := must(breaker.NewCircuitBreaker("a", breaker.Config{}))
	b.ReportAllocs()
	for b.Loop() {
		p, err := cb.Acquire()
		if err != nil {
			b.Fatal(err)
		}
		p.Done(breaker.Success)
	}
}

// Many goroutines, mixed outcomes, the clock moving: the race detector
// watches the transitions, and every refusal is an ErrOpen.
func TestBreakerUnderConcurrentMixedOutcomes(t *testing.T) {
	clk := newClock()
	p := &fakeProvider{name: "a", fn: func(req *http.Request, n int64) (*http.Response, error) {
		if n%3 == 0 {
			return respond(req, 200), nil
		}
		return respond(req, 500), nil
	}}
	var transitions atomic.Int32
	cb := must(breaker.NewCircuitBreaker("a", breaker.Config{HalfOpenProbes: 2, Delay: time.Second, Clock: clk,
		OnStateChange: func(from, to breaker.State) { transitions.Add(1) }}))
	rt := cb.Wrap(p)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				clk.Advance(100 * time.Millisecond)
				time.Sleep(50 * time.Microsecond)
			}
		}
	})
	var callers sync.WaitGroup
	for range 32 {
		callers.Go(func() {
			for range 200 {
				if _, err := send(t, rt); err != nil {
					assert.ErrorIs(t, err, breaker.ErrOpen)
				}
			}
		})
	}
	callers.Wait()
	close(stop)
	wg.Wait()
	assert.Positive(t, p.calls.Load())
	assert.Positive(t, transitions.Load())
}
