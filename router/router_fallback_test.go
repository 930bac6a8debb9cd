package router_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
)

// rtrLoad sends n chat calls through client mode over rt from workers
// goroutines and returns how many got a 200 with a complete body.
func rtrLoad(t *testing.T, rt http.RoundTripper, n, workers int) int {
	t.Helper()
	client := gateway.NewClient(rt)
	var ok atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				resp, err := client.Post(rtrChatURL, "application/json", strings.NewReader(rtrChatBody))
				if err != nil {
					continue
				}
				b, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				if rerr == nil && resp.StatusCode == http.StatusOK && strings.Contains(string(b), `"choices"`) {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return int(ok.Load())
}

// One of two targets answers 503 to everything: 2,000 calls at 64-way
// concurrency nearly all succeed, and once its breaker opens the dead target
// sees only the breaker's probes.
func TestRouterOneOfTwoDown(t *testing.T) {
	clk := gatewaytest.NewClock(rtrEpoch)
	dead := gatewaytest.NewSim("dead", gatewaytest.SimConfig{Clock: clk, Seed: 1, Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{503}}})
	live := gatewaytest.NewSim("live", gatewaytest.SimConfig{Clock: clk})
	r := rtrRouter(t, []router.Target{{Provider: dead, Weight: 1}, {Provider: live, Weight: 1}}, router.Config{Clock: clk})

	const n, workers = 2000, 64
	ok := rtrLoad(t, r, n/2, workers)
	beforeProbes := dead.Requests()
	clk.Advance(breaker.DefaultDelay + time.Second) // the breaker lets its probes through
	ok += rtrLoad(t, r, n/2, workers)

	rate := float64(ok) / n
	deadShare := float64(dead.Requests()) / float64(dead.Requests()+live.Requests())
	t.Logf("1 of 2 down: %d/%d succeeded (%.2f%%); dead target got %d attempts (%d before its breaker opened + %d probes), %.2f%% of all attempts",
		ok, n, 100*rate, dead.Requests(), beforeProbes, dead.Requests()-beforeProbes, 100*deadShare)
	assert.GreaterOrEqual(t, rate, 0.999)
	// Before the breaker opened, calls already past it may each fail once
	// more (at most one per worker); after the delay exactly the probes.
	assert.LessOrEqual(t, beforeProbes, int64(breaker.DefaultFailureThreshold+workers-1))
	assert.LessOrEqual(t, dead.Requests()-beforeProbes, int64(breaker.DefaultHalfOpenProbes))
}

// Three of five targets dead and a Retry outside allowing at most 2
// retries: every call succeeds, because the router's fallback chain is
// bounded by its targets and the budget, not by the Retry's attempts.
func TestRouterThreeOfFiveDown(t *testing.T) {
	clk := gatewaytest.NewClock(rtrEpoch)
	var targets []router.Target
	var healthy []*gatewaytest.Sim
	for i, status := range []int{500, 503, 502, 0, 0} {
		name := string(rune('a' + i))
		var sim *gatewaytest.Sim
		if status != 0 {
			sim = gatewaytest.NewSim(name, gatewaytest.SimConfig{Clock: clk, Seed: 1, Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{status}}})
		} else {
			sim = gatewaytest.NewSim(name, gatewaytest.SimConfig{Clock: clk})
			healthy = append(healthy, sim)
		}
		targets = append(targets, router.Target{Provider: sim, Weight: 1})
	}
	// One budget for the Retry and the router, roomy enough that this test
	// is about attempts, not the budget (TestRouterBudgetBoundsFallback).
	budget := breaker.NewBudget(breaker.BudgetConfig{MinRetries: 100, Clock: clk})
	r := rtrRouter(t, targets, router.Config{Clock: clk, Budget: budget})
	rt := gateway.Chain(r, breaker.Retry(breaker.RetryConfig{MaxAttempts: 3, Budget: budget, Clock: clk}))

	// The round-robin's first turn is on a: the first call meets all three
	// dead targets before a healthy one.
	resp, _, call := rtrDo(t, rt, rtrChatBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"a", "b", "c", "d"}, rtrTargets(call), "the router's attempts only")
	served, _ := call.Served()
	assert.Equal(t, "d", served)

	for i := range 99 {
		resp, body, _ := rtrDo(t, rt, rtrChatBody)
		require.Equal(t, http.StatusOK, resp.StatusCode, "call %d: %s", i+2, body)
	}
	assert.Equal(t, int64(100), healthy[0].Requests()+healthy[1].Requests())
}

// A fallback after the first attempt must win the retry budget.
func TestRouterBudgetBoundsFallback(t *testing.T) {
	clk := gatewaytest.NewClock(rtrEpoch)
	a, b, c := rtrDead("a", 503), rtrDead("b", 503), gatewaytest.NewSim("c", gatewaytest.SimConfig{})
	budget := breaker.NewBudget(breaker.BudgetConfig{Ratio: 0.01, MinRetries: 1, Clock: clk})
	r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1}, {Provider: b, Weight: 1}, {Provider: c, Weight: 1, Tier: 1}},
		router.Config{Clock: clk, Budget: budget})
	resp, _, call := rtrDo(t, r, rtrChatBody)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "the last failure, as the upstream gave it")
	assert.Equal(t, []string{"a", "b"}, rtrTargets(call), "one fallback allowed, not two")
	assert.Zero(t, c.Requests())
}

// A 429 with Retry-After on A: A gets nothing until the window ends; calls
// go to B meanwhile, and A serves again after.
func TestRouterRateLimitCoolsDown(t *testing.T) {
	clk := gatewaytest.NewClock(rtrEpoch)
	a := gatewaytest.NewSim("a", gatewaytest.SimConfig{Clock: clk, Seed: 1,
		Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{429}, RetryAfter: 10 * time.Second}})
	b := gatewaytest.NewSim("b", gatewaytest.SimConfig{Clock: clk})
	r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1}, {Provider: b, Weight: 1}}, router.Config{Clock: clk})

	resp, _, call := rtrDo(t, r, rtrChatBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"a", "b"}, rtrTargets(call), "a 429 falls back at once")
	a.SetFaults(gatewaytest.Faults{}) // A would answer now, but its window runs

	for range 20 {
		clk.Advance(400 * time.Millisecond) // 8 s in all
		resp, _, call := rtrDo(t, r, rtrChatBody)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, []string{"b"}, rtrTargets(call))
	}
	assert.Equal(t, int64(1), a.Requests(), "nothing reaches A inside its Retry-After")

	clk.Advance(2 * time.Second)
	served := map[string]int{}
	for range 10 {
		_, _, call := rtrDo(t, r, rtrChatBody)
		target, _ := call.Served()
		served[target]++
	}
	assert.Equal(t, map[string]int{"a": 5, "b": 5}, served, "A is back once the window ends")
}

// A Retry outside the router runs it again for the same call: the targets
// that already failed the call are avoided while others remain.
func TestRouterRerunAvoidsFailedTargets(t *testing.T) {
	a, b := gatewaytest.NewSim("a", gatewaytest.SimConfig{}), gatewaytest.NewSim("b", gatewaytest.SimConfig{})
	r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1}, {Provider: b, Weight: 1}}, router.Config{})
	send := func(prior ...gateway.Attempt) *gateway.Call {
		c, err := gateway.ParseCall(gateway.OpChat, []byte(rtrChatBody), gateway.Limits{})
		require.NoError(t, err)
		for _, a := range prior {
			c.RecordAttempt(a)
		}
		req, err := http.NewRequestWithContext(gateway.WithCall(context.Background(), c), http.MethodPost, rtrChatURL, nil)
		require.NoError(t, err)
		resp, err := r.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		return c
	}
	for range 6 {
		c := send(gateway.Attempt{Target: "a", Status: 503, Err: "overloaded"})
		target, _ := c.Served()
		assert.Equal(t, "b", target)
	}
	// Both failed before: either may serve, rather than none.
	c := send(gateway.Attempt{Target: "a", Status: 503}, gateway.Attempt{Target: "b", Err: "upstream_error"})
	target, _ := c.Served()
	assert.NotEmpty(t, target)
	// A dead key stays out for the call even when nothing else is left.
	b.SetFaults(gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{500}})
	c, err := gateway.ParseCall(gateway.OpChat, []byte(rtrChatBody), gateway.Limits{})
	require.NoError(t, err)
	c.RecordAttempt(gateway.Attempt{Target: "a", Status: 401})
	req, _ := http.NewRequestWithContext(gateway.WithCall(context.Background(), c), http.MethodPost, rtrChatURL, nil)
	resp, err := r.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.Equal(t, []string{"a", "b"}, rtrTargets(c))
}

// A target whose upstream says it is about to run out of requests is passed
// over until its limit resets, before it answers 429.
func TestRouterHintsSteerAway(t *testing.T) {
	clk := gatewaytest.NewClock(rtrEpoch)
	var left atomic.Int64
	left.Store(100)
	a := gatewaytest.NewSim("a", gatewaytest.SimConfig{Clock: clk, RateLimitHeaders: func() (int, int) {
		return int(left.Add(-1)), 1_000_000
	}})
	b := gatewaytest.NewSim("b", gatewaytest.SimConfig{Clock: clk})
	r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1}, {Provider: b, Weight: 1}},
		router.Config{Clock: clk, Cooldown: 5 * time.Second, HintFloor: 2})

	for range 10 {
		rtrDo(t, r, rtrChatBody)
	}
	assert.Equal(t, int64(5), a.Requests(), "plenty left: an even split")
	left.Store(3) // the next answer says 2 left
	for range 10 {
		rtrDo(t, r, rtrChatBody)
	}
	assert.Equal(t, int64(6), a.Requests(), "at the floor: passed over")
	clk.Advance(5 * time.Second)
	left.Store(100)
	for range 10 {
		rtrDo(t, r, rtrChatBody)
	}
	assert.Greater(t, a.Requests(), int64(8), "the hint expires")
}

// A hinted target still serves when nothing else can: a hint is a forecast.
func TestRouterHintedTargetServesWhenAlone(t *testing.T) {
	a := gatewaytest.NewSim("a", gatewaytest.SimConfig{RateLimitHeaders: func() (int, int) { return 0, 0 }})
	r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1}}, router.Config{})
	for range 3 {
		resp, _, _ := rtrDo(t, r, rtrChatBody)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	}
	assert.Equal(t, int64(3), a.Requests())
}

// Regression: a target that renames the model gets a Call of its own; the
// attempts a Retry among its Middlewares recorded there were lost from the
// caller's Call (one usage record per upstream attempt), and a Budget the
// router shares with that Retry was credited again for the call.
func TestRouterRenamedTargetKeepsInnerAttempts(t *testing.T) {
	testTargetKeepsInnerAttempts(t, map[string]string{"gpt-4.1": "prod-gpt41"}, "prod-gpt41")
}

// Regression: a target with its own Retry among its middlewares, and no
// rename, had its attempts recorded twice (Retry's and the router's).
func TestRouterTargetWithMiddlewaresRecordsEachAttemptOnce(t *testing.T) {
	testTargetKeepsInnerAttempts(t, nil, "gpt-4.1")
}

func testTargetKeepsInnerAttempts(t *testing.T, modelMap map[string]string, wantModel string) {
	t.Helper()
	sim := gatewaytest.NewSim("a", gatewaytest.SimConfig{})
	var sent atomic.Int64
	flaky := rtrFunc("a", func(req *http.Request) (*http.Response, error) {
		if sent.Add(1) <= 2 {
			return &http.Response{StatusCode: http.StatusServiceUnavailable, Header: http.Header{},
				Body: io.NopCloser(strings.NewReader(`{"error":{"message":"busy"}}`)), Request: req}, nil
		}
		return sim.RoundTrip(req)
	})
	budget := breaker.NewBudget(breaker.BudgetConfig{})
	var creditedAgain atomic.Bool
	probe := func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			if gateway.CallFrom(req.Context()).Once(budget) {
				creditedAgain.Store(true) // the target's Retry would credit it here
			}
			return next.RoundTrip(req)
		})
	}
	r := rtrRouter(t, []router.Target{{Provider: flaky, Weight: 1,
		ModelMap: modelMap,
		Middlewares: []gateway.Middleware{probe,
			breaker.Retry(breaker.RetryConfig{Budget: budget, Rand: func() float64 { return 0 }})}}},
		router.Config{Budget: budget})

	resp, _, call := rtrDo(t, r, rtrChatBody)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	attempts := call.Attempts()
	require.Len(t, attempts, 3, "one attempt per upstream try")
	for i, a := range attempts {
		assert.Equal(t, i+1, a.N)
		assert.Equal(t, "a", a.Target)
		assert.Equal(t, wantModel, a.Model)
	}
	assert.Equal(t, []int{503, 503, 200}, []int{attempts[0].Status, attempts[1].Status, attempts[2].Status})
	target, model := call.Served()
	assert.Equal(t, "a", target)
	assert.Equal(t, wantModel, model)
	assert.False(t, creditedAgain.Load(), "the shared budget is credited once per call")
}

// rtrStalledBody is an error body whose upstream sent headers and then
// nothing: a read blocks until it is closed. A read before fallback is
// reached marks readEarly and fails at once instead, so a router that waits
// on the body fails the test rather than hanging it.
type rtrStalledBody struct {
	fellBack <-chan struct{}
	closed   chan struct{}
	once     sync.Once
	closes   atomic.Int32
	early    atomic.Bool
}

func (b *rtrStalledBody) Read([]byte) (int, error) {
	select {
	case <-b.fellBack:
	default:
		b.early.Store(true)
		return 0, io.ErrUnexpectedEOF
	}
	<-b.closed
	return 0, io.ErrClosedPipe
}

func (b *rtrStalledBody) Close() error {
	b.closes.Add(1)
	b.once.Do(func() { close(b.closed) })
	return nil
}

// Regression: the router read a failed attempt's error body (up to 64 KiB)
// before trying the next target, so an upstream that sent 503 headers and
// then stalled held the fallback until the caller's deadline.
func TestRouterFallbackDoesNotWaitForStalledErrorBody(t *testing.T) {
	fellBack := make(chan struct{})
	stalled := &rtrStalledBody{fellBack: fellBack, closed: make(chan struct{})}
	a := rtrFunc("a", func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Header: http.Header{"Content-Type": {"application/json"}},
			Body: stalled, ContentLength: -1, Request: req}, nil
	})
	sim := gatewaytest.NewSim("b", gatewaytest.SimConfig{})
	b := rtrFunc("b", func(req *http.Request) (*http.Response, error) {
		close(fellBack)
		return sim.RoundTrip(req)
	})
	r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1}, {Provider: b, Weight: 1, Tier: 1}}, router.Config{})

	resp, _, call := rtrDo(t, r, rtrChatBody)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"a", "b"}, rtrTargets(call))
	assert.False(t, stalled.early.Load(), "fallback waited on the failed attempt's body")
	assert.EqualValues(t, 1, stalled.closes.Load(), "the superseded response is closed once")
}
