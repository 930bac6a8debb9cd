package breaker_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
)

// Issue 8, all down: a Retry-After longer than MaxWait (an upstream's, or a
// refusal's from inside) is returned at once, Retry-After intact; a shorter
// one is waited for.
func TestRetryReturnsAWaitLongerThanMaxWaitAtOnce(t *testing.T) {
	clk := newClock()
	p := answering("a", 429, "Retry-After", "5")
	rt := gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: clk})))
	resp := returnsAtOnce(t, clk, func() *http.Response { return <-runAsync(t, rt, context.Background()) })
	assert.Equal(t, 429, resp.StatusCode)
	assert.Equal(t, "5", resp.Header.Get("Retry-After"))
	assert.EqualValues(t, 1, p.calls.Load())

	// A refusal from inside: no healthy target for 30 s.
	refusal := gateway.ErrNoHealthyProvider.WithRetryAfter(30 * time.Second)
	var runs int
	inner := func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			runs++
			req.Body.Close()
			return nil, refusal
		})
	}
	rt = gateway.Chain(answering("b", 200), must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: clk})), inner)
	resp = returnsAtOnce(t, clk, func() *http.Response { return <-runAsync(t, rt, context.Background()) })
	assert.Equal(t, -1, resp.StatusCode, "the refusal, as an error")
	assert.Equal(t, 1, runs)

	// 1 s ≤ MaxWait: waited for, then sent.
	q := &fakeProvider{name: "c", fn: func(req *http.Request, n int64) (*http.Response, error) {
		if n == 1 {
			return respond(req, 429, "Retry-After", "1"), nil
		}
		return respond(req, 200), nil
	}}
	rt = gateway.Chain(q, must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: clk})))
	done := runAsync(t, rt, context.Background())
	clk.BlockUntil(1)
	assert.EqualValues(t, 1, q.calls.Load())
	clk.Advance(time.Second)
	assert.Equal(t, 200, (<-done).StatusCode)
}

// Issue 8, Retry-After on 429s: a run that sent nothing upstream (every
// target cooling down) makes the next run's attempt the call's first, so it
// needs no budget: a spent budget does not turn a short wait into a refusal.
func TestRetryRerunAfterNothingWasSentCostsNoBudget(t *testing.T) {
	clk := newClock()
	budget := must(breaker.NewBudget(breaker.BudgetConfig{MinRetries: 1, Ratio: 0.01, Clock: clk}))
	require.True(t, budget.TryRetry())
	require.Equal(t, 0, budget.Available())
	var runs int
	cooling := func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			if runs++; runs == 1 {
				req.Body.Close()
				return nil, gateway.ErrNoHealthyProvider.WithRetryAfter(time.Second)
			}
			return next.RoundTrip(req)
		})
	}
	p := answering("a", 200)
	rt := gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: clk, Budget: budget})), cooling)
	done := runAsync(t, rt, context.Background())
	clk.BlockUntil(1)
	clk.Advance(time.Second)
	assert.Equal(t, 200, (<-done).StatusCode)
	assert.EqualValues(t, 1, p.calls.Load())

	// After an upstream attempt, a retry needs the budget, which is spent.
	p = answering("b", 500)
	rt = gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: clk, Budget: budget})))
	assert.Equal(t, 500, returnsAtOnce(t, clk, func() *http.Response { return <-runAsync(t, rt, context.Background()) }).StatusCode)
	assert.EqualValues(t, 1, p.calls.Load())
}

// Issue 8: a redirect is deterministic: Fatal (never retried, no breaker
// failure) and a fault of the target alone.
func TestRedirectIsFatalAndATargetFault(t *testing.T) {
	redirect := breaker.ErrRedirect.WithMessage("provider: a: upstream answered 307")
	assert.Equal(t, breaker.Fatal, breaker.Classify(nil, nil, redirect))
	assert.True(t, breaker.IsTargetFault(nil, redirect))
	assert.True(t, breaker.IsTargetFault(&http.Response{StatusCode: 308}, nil))
	assert.True(t, breaker.IsTargetFault(&http.Response{StatusCode: 401}, nil))
	assert.False(t, breaker.IsTargetFault(&http.Response{StatusCode: 400}, nil))
	assert.False(t, breaker.IsTargetFault(nil, gateway.ErrUpstream))

	p := &fakeProvider{name: "a", fn: func(req *http.Request, _ int64) (*http.Response, error) { return nil, redirect }}
	cb := must(breaker.NewCircuitBreaker("a", breaker.Config{FailureThreshold: 1}))
	rt := gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{Rand: noJitter})), cb.Middleware())
	for range 3 {
		_, err := send(t, rt)
		require.ErrorIs(t, err, breaker.ErrRedirect)
	}
	assert.EqualValues(t, 3, p.calls.Load(), "one attempt per call")
	assert.Equal(t, breaker.Closed, cb.State())
}

// Budget.Spend withdraws without asking, so a fallback sent on credit that
// failed still counts: the next TryRetry is refused sooner.
func TestBudgetSpendWithdrawsWithoutAsking(t *testing.T) {
	b := must(breaker.NewBudget(breaker.BudgetConfig{MinRetries: 2, Ratio: 0.01, Clock: newClock()}))
	b.Spend()
	assert.Equal(t, 1, b.Available())
	b.Spend()
	b.Spend() // over the floor: in debt
	assert.Equal(t, 0, b.Available())
	assert.False(t, b.TryRetry())
}

// Review finding: a run refused inside (nothing sent) after a run that had
// sent something was charged all the same: the budget paid for a retry
// that was never made. One upstream retry costs one withdrawal.
func TestRetryRunThatSendsNothingIsRefunded(t *testing.T) {
	clk := newClock()
	budget := must(breaker.NewBudget(breaker.BudgetConfig{MinRetries: 5, Ratio: 0.01, Clock: clk}))
	var runs int
	inner := func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			if runs++; runs == 2 { // every target cooling down: nothing sent
				req.Body.Close()
				return nil, gateway.ErrNoHealthyProvider.WithRetryAfter(time.Millisecond)
			}
			return next.RoundTrip(req)
		})
	}
	p := statuses("a", 500, 200)
	rt := gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{MaxAttempts: 3, Rand: noJitter, Clock: clk, Budget: budget})), inner)
	before := budget.Available()
	done := runAsync(t, rt, context.Background())
	var resp *http.Response
	for resp == nil {
		select {
		case resp = <-done:
		default:
			if clk.Timers() > 0 {
				clk.Advance(time.Second) // the waits: backoff, the refusal's Retry-After
			}
			time.Sleep(time.Millisecond)
		}
	}
	assert.Equal(t, 200, resp.StatusCode)
	assert.EqualValues(t, 2, p.calls.Load())
	assert.Equal(t, before-1, budget.Available(), "one upstream retry, one withdrawal")
}

// Review finding: waits stacked past max_wait (the router's per run, and
// Retry's on top, three runs over). A call's waits for capacity share one
// account: after 1.5 s of waiting, another 1.5 s Retry-After would pass the
// 2 s MaxWait, so the answer is returned at once.
func TestRetryWaitsForCapacityWithinOneMaxWaitInAll(t *testing.T) {
	clk := newClock()
	p := answering("a", 429, "Retry-After-Ms", "1500")
	rt := gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{MaxAttempts: 5, Rand: noJitter, Clock: clk})))
	done := runAsync(t, rt, context.Background())
	clk.BlockUntil(1)
	clk.Advance(1500 * time.Millisecond)
	resp := returnsAtOnce(t, clk, func() *http.Response { return <-done })
	assert.Equal(t, 429, resp.StatusCode)
	assert.EqualValues(t, 2, p.calls.Load(), "one wait of 1.5 s; a second would pass 2 s in all")
}
