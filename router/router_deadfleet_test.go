package router_test

import (
	"context"
	"io"
	"net"
	"net/http"
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
	"github.com/llmgate/gateway/router"
)

// rtrAsync sends body through client mode over rt in a goroutine.
func rtrAsync(t *testing.T, ctx context.Context, rt http.RoundTripper) <-chan *http.Response {
	t.Helper()
	done := make(chan *http.Response, 1)
	go func() {
		resp, _, _ := rtrDoCtx(t, ctx, rt, rtrChatBody)
		done <- resp
	}()
	return done
}

// rtrAtOnce waits for a result that needs no time on clk: it fails the test
// when the router sleeps on the clock instead (the clock is then advanced
// so that nothing leaks).
func rtrAtOnce(t *testing.T, clk *gatewaytest.Clock, done <-chan *http.Response) *http.Response {
	t.Helper()
	for range 5000 {
		select {
		case resp := <-done:
			return resp
		default:
		}
		if clk.Timers() > 0 {
			clk.Advance(24 * time.Hour)
			<-done
			t.Fatal("the router waited on the clock")
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("no answer")
	return nil
}

// rtrCoolBoth makes a and b answer 429 with retryAfter once each, through
// r, so that both targets' breakers are cooling down; then they heal.
func rtrCoolBoth(t *testing.T, r http.RoundTripper, a, b *gatewaytest.Sim, retryAfter time.Duration) {
	t.Helper()
	f := gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{429}, RetryAfter: retryAfter}
	require.NoError(t, a.SetFaults(f))
	require.NoError(t, b.SetFaults(f))
	resp, _, call := rtrDo(t, r, rtrChatBody)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.ElementsMatch(t, []string{"a", "b"}, rtrTargets(call))
	require.NoError(t, a.SetFaults(gatewaytest.Faults{}))
	require.NoError(t, b.SetFaults(gatewaytest.Faults{}))
}

// Issue 8, Retry-After on 429s: with both targets inside a short
// Retry-After window, a call waits for the earliest and is then served; it
// sends nothing inside the window.
func TestRouterWaitsForTheEarliestCoolingTarget(t *testing.T) {
	clk := gatewaytest.NewClock(rtrEpoch)
	a := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{Clock: clk, Seed: 1})
	b := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{Clock: clk, Seed: 1})
	r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1}, {Provider: b, Weight: 1}}, router.Config{Clock: clk})
	rtrCoolBoth(t, r, a, b, time.Second)

	done := rtrAsync(t, context.Background(), r)
	clk.BlockUntil(1)
	clk.Advance(999 * time.Millisecond)
	assert.Equal(t, int64(2), a.Requests()+b.Requests(), "nothing sent inside the window")
	clk.Advance(time.Millisecond)
	resp := <-done
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, int64(3), a.Requests()+b.Requests())
}

// Issue 8, all down: when no target can serve within MaxWait, the call is
// answered at once with 503 no_healthy_provider and the soonest
// Retry-After; nothing is sent.
func TestRouterAnswersAtOnceWhenNoTargetIsReadySoon(t *testing.T) {
	clk := gatewaytest.NewClock(rtrEpoch)
	a := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{Clock: clk, Seed: 1})
	b := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{Clock: clk, Seed: 1})
	r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1}, {Provider: b, Weight: 1}}, router.Config{Clock: clk})
	rtrCoolBoth(t, r, a, b, 10*time.Second)

	resp := rtrAtOnce(t, clk, rtrAsync(t, context.Background(), r))
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "10", resp.Header.Get("Retry-After"))
	assert.Equal(t, int64(2), a.Requests()+b.Requests(), "nothing sent")

	// Open breakers, 30 s from their probes: the same, at once.
	open := func(name string) *breaker.CircuitBreaker {
		return must(breaker.NewCircuitBreaker(name, breaker.Config{FailureThreshold: 1, Delay: 30 * time.Second, Clock: clk}))
	}
	da, db := rtrDead("a", 503), rtrDead("b", 503)
	r2 := rtrRouter(t, []router.Target{{Provider: da, Weight: 1, Breaker: open("a")}, {Provider: db, Weight: 1, Breaker: open("b")}},
		router.Config{Clock: clk})
	resp, _, _ = rtrDo(t, r2, rtrChatBody) // both fail once: both open
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	resp = rtrAtOnce(t, clk, rtrAsync(t, context.Background(), r2))
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "30", resp.Header.Get("Retry-After"))
	assert.Equal(t, int64(2), da.Requests()+db.Requests())
}

// A wait that would end past the caller's deadline is not made, nor one
// longer than Config.MaxWait.
func TestRouterWaitsOnlyWithinMaxWaitAndTheDeadline(t *testing.T) {
	clk := gatewaytest.NewClock(time.Now()) // the caller's deadline is read against it
	a := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{Clock: clk, Seed: 1})
	b := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{Clock: clk, Seed: 1})
	r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1}, {Provider: b, Weight: 1}},
		router.Config{Clock: clk, MaxWait: 500 * time.Millisecond})
	rtrCoolBoth(t, r, a, b, time.Second)
	resp := rtrAtOnce(t, clk, rtrAsync(t, context.Background(), r))
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "1 s > MaxWait")

	r2 := rtrRouter(t, []router.Target{{Provider: a, Weight: 1}, {Provider: b, Weight: 1}},
		router.Config{Clock: clk, MaxWait: time.Minute})
	rtrCoolBoth(t, r2, a, b, 30*time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), clk.Now().Add(20*time.Second))
	defer cancel()
	resp = rtrAtOnce(t, clk, rtrAsync(t, ctx, r2))
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "the wait would pass the deadline")
	assert.Equal(t, int64(4), a.Requests()+b.Requests())
}

// Issue 8, one of two down: a fallback to a target whose latest outcome
// was a success is sent even when the retry budget is spent, and charged
// only when it fails; once it has failed, fallbacks need the budget again.
func TestRouterFallbackOnCreditAfterASuccess(t *testing.T) {
	clk := gatewaytest.NewClock(rtrEpoch)
	quiet := func(name string) *breaker.CircuitBreaker { // never opens here
		return must(breaker.NewCircuitBreaker(name, breaker.Config{FailureThreshold: 1000, MinCalls: 1000, FailureThresholdWindow: 1000, Clock: clk}))
	}
	setup := func() (*router.Router, *gatewaytest.Sim, *gatewaytest.Sim, *breaker.Budget) {
		a := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{Clock: clk, Seed: 1})
		b := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{Clock: clk, Seed: 1})
		budget := must(breaker.NewBudget(breaker.BudgetConfig{Ratio: 0.01, MinRetries: 1, Clock: clk}))
		r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1, Breaker: quiet("a")}, {Provider: b, Weight: 1, Tier: 1, Breaker: quiet("b")}},
			router.Config{Clock: clk, Budget: budget})
		return r, a, b, budget
	}
	dead := gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{503}}

	// b has not served yet: a fallback to it needs the budget, spent.
	r, a, b, budget := setup()
	require.True(t, budget.TryRetry(), "the floor's one retry")
	require.NoError(t, a.SetFaults(dead))
	resp, _, call := rtrDo(t, r, rtrChatBody)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, []string{"a"}, rtrTargets(call))
	assert.Zero(t, b.Requests())

	// b has served (a paid fallback, the floor's one retry): a's failures
	// fall back to it on credit, with the budget empty.
	r, a, b, budget = setup()
	require.NoError(t, a.SetFaults(dead))
	resp, _, call = rtrDo(t, r, rtrChatBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, []string{"a", "b"}, rtrTargets(call))
	require.Equal(t, 0, budget.Available())
	for range 6 {
		resp, _, call := rtrDo(t, r, rtrChatBody)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%v", rtrTargets(call))
		require.Equal(t, []string{"a", "b"}, rtrTargets(call))
	}
	assert.Equal(t, 0, budget.Available())

	// b fails a fallback on credit: it is charged, and b loses its credit.
	require.NoError(t, b.SetFaults(gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{500}}))
	resp, _, call = rtrDo(t, r, rtrChatBody)
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.Equal(t, []string{"a", "b"}, rtrTargets(call), "on credit")
	resp, _, call = rtrDo(t, r, rtrChatBody)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, []string{"a"}, rtrTargets(call), "b lost its credit; the budget is spent")
}

// RELIABILITY 5, with fallbacks on credit: when every target fails, none
// has a latest success, so N calls through Retry and the router (one budget)
// make at most (1+Ratio)·N + MinRetries upstream attempts; a healthy fleet
// that dies at once adds at most one per target (sequential calls).
func TestRouterAllFailBoundHoldsWithCredit(t *testing.T) {
	const n = 300
	for _, healthyFirst := range []int{0, 20} {
		clk := gatewaytest.NewClock(rtrEpoch)
		a := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{Clock: clk, Seed: 1})
		b := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{Clock: clk, Seed: 2})
		budget := must(breaker.NewBudget(breaker.BudgetConfig{MinRetries: 3, Clock: clk}))
		quiet := func(name string) *breaker.CircuitBreaker {
			return must(breaker.NewCircuitBreaker(name, breaker.Config{FailureThreshold: 10000, MinCalls: 1000, FailureThresholdWindow: 1000, Clock: clk}))
		}
		r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1, Breaker: quiet("a")}, {Provider: b, Weight: 1, Breaker: quiet("b")}},
			router.Config{Clock: clk, Budget: budget})
		retry := must(breaker.Retry(breaker.RetryConfig{Budget: budget, Clock: clk, Rand: func() float64 { return 0 }}))
		rt := gateway.Chain(r, retry)
		for range healthyFirst {
			resp, _, _ := rtrDo(t, rt, rtrChatBody)
			require.Equal(t, http.StatusOK, resp.StatusCode)
		}
		dead := gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{500}}
		require.NoError(t, a.SetFaults(dead))
		require.NoError(t, b.SetFaults(dead))
		for range n {
			resp, _, _ := rtrDo(t, rt, rtrChatBody)
			require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
		}
		calls := n + healthyFirst
		attempts := a.Requests() + b.Requests()
		bound := int64(1.2*float64(calls)) + 3
		if healthyFirst > 0 {
			bound += 2 // one fallback on credit per target, before its first failure
		}
		assert.LessOrEqual(t, attempts, bound, "healthy first: %d", healthyFirst)
		assert.GreaterOrEqual(t, attempts, int64(calls))
		t.Logf("%d calls (%d healthy first): %d upstream attempts (%.3f×), bound %d", calls, healthyFirst, attempts, float64(attempts)/float64(calls), bound)
	}
}

// Issue 8: with Idempotent saying a call must not be repeated, an ambiguous
// failure (a reset after sending) is not sent to another target; the
// default sends it on.
func TestRouterFollowsIdempotencyForFallbacks(t *testing.T) {
	reset := rtrFunc("a", func(req *http.Request) (*http.Response, error) {
		req.Body.Close()
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	})
	b := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{Seed: 1})
	never := func(*http.Request) bool { return false }
	r := rtrRouter(t, []router.Target{{Provider: reset, Weight: 1}, {Provider: b, Weight: 1, Tier: 1}}, router.Config{Idempotent: never})
	resp, _, call := rtrDo(t, r, rtrChatBody)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	assert.Equal(t, []string{"a"}, rtrTargets(call))
	assert.Zero(t, b.Requests())

	// A refused connection is not ambiguous: nothing was sent.
	refused := rtrFunc("a", func(req *http.Request) (*http.Response, error) {
		req.Body.Close()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	})
	r = rtrRouter(t, []router.Target{{Provider: refused, Weight: 1}, {Provider: b, Weight: 1, Tier: 1}}, router.Config{Idempotent: never})
	resp, _, _ = rtrDo(t, r, rtrChatBody)
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	r = rtrRouter(t, []router.Target{{Provider: reset, Weight: 1}, {Provider: b, Weight: 1, Tier: 1}}, router.Config{})
	resp, _, call = rtrDo(t, r, rtrChatBody)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "model calls are idempotent by default")
	assert.Equal(t, []string{"a", "b"}, rtrTargets(call))
}

// Issue 8: a redirect is deterministic. The target that answers one is out
// for the call (the call moves on), is not retried, and its breaker counts
// no failure; a 3xx never reaches the caller.
func TestRouterRedirectMovesOnWithoutBreakerFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(*http.Request) (*http.Response, error)
	}{
		{"refused by the provider", func(req *http.Request) (*http.Response, error) {
			req.Body.Close()
			return nil, breaker.ErrRedirect.WithMessage("provider: a: upstream answered 307")
		}},
		{"a 3xx response", func(req *http.Request) (*http.Response, error) {
			req.Body.Close()
			return &http.Response{StatusCode: http.StatusTemporaryRedirect, Header: http.Header{"Location": {"http://elsewhere.invalid/"}},
				Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tries int
			a := rtrFunc("a", func(req *http.Request) (*http.Response, error) { tries++; return tc.fn(req) })
			b := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{Seed: 1})
			cb := must(breaker.NewCircuitBreaker("a", breaker.Config{FailureThreshold: 2}))
			r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1, Breaker: cb}, {Provider: b, Weight: 1, Tier: 1}}, router.Config{})
			rt := gateway.Chain(r, must(breaker.Retry(breaker.RetryConfig{Rand: func() float64 { return 0 }})))
			for i := range 5 {
				resp, _, call := rtrDo(t, rt, rtrChatBody)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Equal(t, []string{"a", "b"}, rtrTargets(call), "call %d", i)
			}
			assert.Equal(t, 5, tries, "never retried on a")
			assert.Equal(t, breaker.Closed, cb.State(), "no breaker failure")
		})
	}
	// Alone, the redirect is the answer: a 502, not a 3xx.
	a := rtrFunc("a", func(req *http.Request) (*http.Response, error) {
		req.Body.Close()
		return nil, breaker.ErrRedirect.WithMessage("provider: a: upstream answered 307")
	})
	resp, body, _ := rtrDo(t, rtrRouter(t, []router.Target{{Provider: a, Weight: 1}}, router.Config{}), rtrChatBody)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	assert.Contains(t, string(body), "upstream_redirect")
}

// A 3xx a lone target returns never reaches the caller, whose client would
// follow it: the entry point answers 502.
func TestRouterLoneRedirectIsA502(t *testing.T) {
	a := rtrFunc("a", func(req *http.Request) (*http.Response, error) {
		req.Body.Close()
		return &http.Response{StatusCode: http.StatusTemporaryRedirect, Header: http.Header{"Location": {"http://elsewhere.invalid/"}},
			Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
	})
	resp, body, call := rtrDo(t, rtrRouter(t, []router.Target{{Provider: a, Weight: 1}}, router.Config{}), rtrChatBody)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	assert.Empty(t, resp.Header.Get("Location"))
	assert.Contains(t, string(body), `"code":"upstream_redirect"`, "one kind, whoever met the redirect")
	status, _ := call.Result()
	assert.Equal(t, http.StatusBadGateway, status)
}

// Regression (new-user trial): with one of two equal targets failing every
// call, every call's first pick went to the failing one, since each
// fallback took a turn of the round-robin. Fallbacks take no turn: first
// picks alternate.
func TestRouterFallbackTakesNoRoundRobinTurn(t *testing.T) {
	quiet := func(name string) *breaker.CircuitBreaker {
		return must(breaker.NewCircuitBreaker(name, breaker.Config{FailureThreshold: 1000, MinCalls: 1000, FailureThresholdWindow: 1000}))
	}
	a, b := rtrDead("a", 503), gatewaytest.MustNewSim("b", gatewaytest.SimConfig{Seed: 1})
	r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1, Breaker: quiet("a")}, {Provider: b, Weight: 1, Breaker: quiet("b")}}, router.Config{})
	firsts := map[string]int{}
	for range 10 {
		resp, _, call := rtrDo(t, r, rtrChatBody)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		firsts[call.Attempts()[0].Target]++
	}
	assert.Equal(t, map[string]int{"a": 5, "b": 5}, firsts)
}

// Review finding: a budget refusal ended the call, though a healthy target
// that a fallback on credit could reach was left. A dead, C dead, B healthy
// and just served, the budget spent: the call reaches B.
func TestRouterBudgetRefusalStillTriesAHealthyTarget(t *testing.T) {
	clk := gatewaytest.NewClock(rtrEpoch)
	quiet := func(name string) *breaker.CircuitBreaker {
		return must(breaker.NewCircuitBreaker(name, breaker.Config{FailureThreshold: 1000, MinCalls: 1000, FailureThresholdWindow: 1000, Clock: clk}))
	}
	a, c := rtrDead("a", 503), rtrDead("c", 503)
	b := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{Clock: clk, Seed: 1})
	budget := must(breaker.NewBudget(breaker.BudgetConfig{Ratio: 0.01, MinRetries: 1, Clock: clk}))
	r := rtrRouter(t, []router.Target{
		{Provider: a, Weight: 1, Breaker: quiet("a")},
		{Provider: c, Weight: 1, Tier: 1, Breaker: quiet("c")},
		{Provider: b, Weight: 1, Tier: 2, Breaker: quiet("b")},
	}, router.Config{Clock: clk, Budget: budget})
	resp, _, call := rtrDo(t, r, rtrChatBody) // a, then c on the budget's one retry; b has not served: no credit
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, []string{"a", "c"}, rtrTargets(call))

	budget2 := must(breaker.NewBudget(breaker.BudgetConfig{Ratio: 0.01, MinRetries: 2, Clock: clk}))
	r2 := rtrRouter(t, []router.Target{
		{Provider: a, Weight: 1, Breaker: quiet("a")},
		{Provider: c, Weight: 1, Tier: 1, Breaker: quiet("c")},
		{Provider: b, Weight: 1, Tier: 2, Breaker: quiet("b")},
	}, router.Config{Clock: clk, Budget: budget2})
	resp, _, call = rtrDo(t, r2, rtrChatBody) // b serves once, with the floor's two retries
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, []string{"a", "c", "b"}, rtrTargets(call))
	require.Equal(t, 0, budget2.Available())
	resp, _, call = rtrDo(t, r2, rtrChatBody)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"a", "b"}, rtrTargets(call), "c needs the budget: skipped; b on credit")
}

// Review finding: in a brownout (every target failing half its calls) one
// success gave a target credit again, so fallbacks escaped the budget.
// Credit needs a low recent error share: the budget bounds a brownout.
func TestRouterBrownoutGetsNoCredit(t *testing.T) {
	const n = 400
	clk := gatewaytest.NewClock(rtrEpoch)
	var targets []router.Target
	var sims []*gatewaytest.Sim
	for i := range 4 {
		name := string(rune('a' + i))
		s := gatewaytest.MustNewSim(name, gatewaytest.SimConfig{Clock: clk, Seed: uint64(i + 1),
			Faults: gatewaytest.Faults{ErrorRate: 0.5, ErrorStatuses: []int{500}}})
		sims = append(sims, s)
		targets = append(targets, router.Target{Provider: s, Weight: 1,
			Breaker: must(breaker.NewCircuitBreaker(name, breaker.Config{FailureThreshold: 10000, MinCalls: 10000, FailureThresholdWindow: 10000, Clock: clk}))})
	}
	budget := must(breaker.NewBudget(breaker.BudgetConfig{Ratio: 0.01, MinRetries: 1, Clock: clk}))
	r := rtrRouter(t, targets, router.Config{Clock: clk, Budget: budget})
	for range n {
		rtrDo(t, r, rtrChatBody)
	}
	var attempts int64
	for _, s := range sims {
		attempts += s.Requests()
	}
	t.Logf("%d calls, %d attempts (%.3f×)", n, attempts, float64(attempts)/n)
	assert.LessOrEqual(t, attempts, int64(1.06*n), "the budget (1%%) bounds the fallbacks, but for rare credit")
}

// RELIABILITY 5, concurrently: when every target fails from the start, no
// target ever has credit, so 16-way concurrency keeps the budget's bound.
func TestRouterAllFailBoundHoldsConcurrently(t *testing.T) {
	const n, workers = 600, 16
	clk := gatewaytest.NewClock(rtrEpoch)
	dead := gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{500}}
	a := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{Clock: clk, Seed: 1, Faults: dead})
	b := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{Clock: clk, Seed: 2, Faults: dead})
	budget := must(breaker.NewBudget(breaker.BudgetConfig{MinRetries: 3, Clock: clk}))
	quiet := func(name string) *breaker.CircuitBreaker {
		return must(breaker.NewCircuitBreaker(name, breaker.Config{FailureThreshold: 10000, MinCalls: 10000, FailureThresholdWindow: 10000, Clock: clk}))
	}
	r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1, Breaker: quiet("a")}, {Provider: b, Weight: 1, Breaker: quiet("b")}},
		router.Config{Clock: clk, Budget: budget})
	rt := gateway.Chain(r, must(breaker.Retry(breaker.RetryConfig{Budget: budget, Clock: clk, Rand: func() float64 { return 0 }})))
	var wg sync.WaitGroup
	var next atomic.Int64
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= n {
				rtrDo(t, rt, rtrChatBody)
			}
		})
	}
	wg.Wait()
	attempts := a.Requests() + b.Requests()
	t.Logf("%d calls, %d workers: %d attempts (%.3f×)", n, workers, attempts, float64(attempts)/n)
	assert.LessOrEqual(t, attempts, int64(1.2*n)+3)
}
