package router_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
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
	dead := gatewaytest.MustNewSim("dead", gatewaytest.SimConfig{Clock: clk, Seed: 1, Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{503}}})
	live := gatewaytest.MustNewSim("live", gatewaytest.SimConfig{Clock: clk})
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
			sim = gatewaytest.MustNewSim(name, gatewaytest.SimConfig{Clock: clk, Seed: 1, Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{status}}})
		} else {
			sim = gatewaytest.MustNewSim(name, gatewaytest.SimConfig{Clock: clk})
			healthy = append(healthy, sim)
		}
		targets = append(targets, router.Target{Provider: sim, Weight: 1})
	}
	// One budget for the Retry and the router, roomy enough that this test
	// is about attempts, not the budget (TestRouterBudgetBoundsFallback).
	budget := must(breaker.NewBudget(breaker.BudgetConfig{MinRetries: 100, Clock: clk}))
	r := rtrRouter(t, targets, router.Config{Clock: clk, Budget: budget})
	rt := gateway.Chain(r, must(breaker.Retry(breaker.RetryConfig{MaxAttempts: 3, Budget: budget, Clock: clk})))

	// The round-robin's first turn is on a; fallbacks take no turn (they
	// draw by weight among the rest) and end on a healthy target.
	want := map[string]int{"a": 500, "b": 503, "c": 502, "d": 200, "e": 200}
	resp, _, call := rtrDo(t, rt, rtrChatBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	got := rtrTargets(call)
	assert.Equal(t, "a", got[0], "the router's attempts only")
	served, _ := call.Served()
	assert.Contains(t, []string{"d", "e"}, served)
	assert.Equal(t, served, got[len(got)-1])
	for _, a := range call.Attempts() {
		assert.Equal(t, want[a.Target], a.Status, a.Target)
		assert.Empty(t, a.Err, "a response's attempt has a Status, no Err")
	}

	for i := range 99 {
		resp, body, _ := rtrDo(t, rt, rtrChatBody)
		require.Equal(t, http.StatusOK, resp.StatusCode, "call %d: %s", i+2, body)
	}
	assert.Equal(t, int64(100), healthy[0].Requests()+healthy[1].Requests())
}

// A fallback after the first attempt must win the retry budget.
func TestRouterBudgetBoundsFallback(t *testing.T) {
	clk := gatewaytest.NewClock(rtrEpoch)
	a, b, c := rtrDead("a", 503), rtrDead("b", 503), gatewaytest.MustNewSim("c", gatewaytest.SimConfig{})
	budget := must(breaker.NewBudget(breaker.BudgetConfig{Ratio: 0.01, MinRetries: 1, Clock: clk}))
	r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1}, {Provider: b, Weight: 1}, {Provider: c, Weight: 1, Tier: 1}},
		router.Config{Clock: clk, Budget: budget})
	resp, _, call := rtrDo(t, r, rtrChatBody)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "the last failure, as the upstream gave it")
	assert.Equal(t, []string{"a", "b"}, rtrTargets(call), "one fallback allowed, not two")
	assert.Zero(t, c.Requests())
}

// Regression: a fallback whose target refused before anything was sent (a
// full bulkhead) spent the retry budget anyway, so the next, healthy target
// was never tried.
func TestRouterRefusedFallbackSpendsNoBudget(t *testing.T) {
	clk := gatewaytest.NewClock(rtrEpoch)
	a, b, c := rtrDead("a", 503), gatewaytest.MustNewSim("b", gatewaytest.SimConfig{}), gatewaytest.MustNewSim("c", gatewaytest.SimConfig{})
	full := must(breaker.NewBulkhead(1, breaker.BulkheadConfig{}))
	slot := must(full.Acquire(context.Background())) // b's only slot is taken
	defer slot.Release(breaker.Success)
	budget := must(breaker.NewBudget(breaker.BudgetConfig{Ratio: 0.01, MinRetries: 1, Clock: clk}))
	r := rtrRouter(t, []router.Target{
		{Provider: a, Weight: 1},
		{Provider: b, Weight: 1, Tier: 1, Middlewares: []gateway.Middleware{full.Middleware()}},
		{Provider: c, Weight: 1, Tier: 2},
	}, router.Config{Clock: clk, Budget: budget})
	resp, _, call := rtrDo(t, r, rtrChatBody)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"a", "c"}, rtrTargets(call), "b refused before anything was sent: no attempt")
	assert.Zero(t, b.Requests())
	assert.Equal(t, 0, budget.Available(), "one fallback made, one spent")
}

// A 429 with Retry-After on A: A gets nothing until the window ends; calls
// go to B meanwhile, and A serves again after.
func TestRouterRateLimitCoolsDown(t *testing.T) {
	clk := gatewaytest.NewClock(rtrEpoch)
	a := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{Clock: clk, Seed: 1,
		Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{429}, RetryAfter: 10 * time.Second}})
	b := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{Clock: clk})
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

// rtrEarlierRun returns a RoundTripper that, like a Retry outside rt running
// it again, first sends the call to each of earlier (each behind an attempt
// boundary of its own, which records its attempt on the Call as an earlier
// run's would be) and discards their outcomes, then sends it to rt.
func rtrEarlierRun(rt http.RoundTripper, earlier ...gateway.Provider) http.RoundTripper {
	return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		for _, p := range earlier {
			out := req.Clone(req.Context())
			out.Body, _ = req.GetBody()
			resp, err := gateway.Chain(p).RoundTrip(out)
			if err == nil {
				resp.Body.Close()
			}
		}
		return rt.RoundTrip(req)
	})
}

// The router keeps no cooldown of its own: a 429 cools the target's breaker,
// for its Config.Cooldown when the answer has no Retry-After and for the
// Retry-After clamped to its MaxRetryAfter when it has one, and the router
// passes over a target whose breaker is not Ready.
func TestRouterRateLimitCooldownIsTheBreakers(t *testing.T) {
	clk := gatewaytest.NewClock(rtrEpoch)
	a := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{Clock: clk, Seed: 1,
		Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{429}}}) // no Retry-After
	b := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{Clock: clk})
	cb := must(breaker.NewCircuitBreaker("a", breaker.Config{Cooldown: 3 * time.Second, MaxRetryAfter: 5 * time.Second, Clock: clk}))
	r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1, Breaker: cb}, {Provider: b, Weight: 1}}, router.Config{Clock: clk})

	resp, _, call := rtrDo(t, r, rtrChatBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"a", "b"}, rtrTargets(call))
	assert.Equal(t, 429, call.Attempts()[0].Status)
	assert.False(t, cb.Ready(), "the 429 cooled a's breaker")
	assert.Equal(t, breaker.Closed, cb.State(), "a 429 is no failure")

	// waitOut checks that a gets nothing until wait has passed, and one
	// call (which cools it again) right after.
	waitOut := func(wait time.Duration, why string) {
		t.Helper()
		seen := a.Requests()
		for range 10 {
			clk.Advance((wait - time.Millisecond) / 10)
			resp, _, call := rtrDo(t, r, rtrChatBody)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, []string{"b"}, rtrTargets(call), why)
		}
		assert.Equal(t, seen, a.Requests(), why)
		clk.Advance(wait - (wait-time.Millisecond)/10*10)
		assert.True(t, cb.Ready(), why+": over")
		for range 2 { // a's turn comes within two calls
			resp, _, _ := rtrDo(t, r, rtrChatBody)
			require.Equal(t, http.StatusOK, resp.StatusCode)
		}
		assert.Equal(t, seen+1, a.Requests(), why+": a is tried again once it is over")
	}
	waitOut(3*time.Second, "no Retry-After: the breaker's Cooldown")
	a.SetFaults(gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{429}, RetryAfter: 30 * time.Second})
	waitOut(3*time.Second, "no Retry-After: the breaker's Cooldown") // the last 429 had none
	waitOut(5*time.Second, "Retry-After 30 s: clamped to the breaker's MaxRetryAfter")
}

// A Retry outside the router runs it again for the same call: the targets
// that already failed the call are avoided while others remain.
func TestRouterRerunAvoidsFailedTargets(t *testing.T) {
	a, b := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{}), gatewaytest.MustNewSim("b", gatewaytest.SimConfig{})
	r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1}, {Provider: b, Weight: 1}}, router.Config{})
	aFailed := rtrDead("a", 503) // a's earlier attempt, under a's name
	for range 6 {
		resp, _, c := rtrDo(t, rtrEarlierRun(r, aFailed), rtrChatBody)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, []string{"a", "b"}, rtrTargets(c))
		assert.Equal(t, 503, c.Attempts()[0].Status)
		target, _ := c.Served()
		assert.Equal(t, "b", target)
	}
	assert.Zero(t, a.Requests(), "a failed the call already: avoided while b remains")
	assert.Equal(t, int64(6), b.Requests())

	// Both failed before: either may serve, rather than none.
	bFailed := rtrFunc("b", func(*http.Request) (*http.Response, error) { return nil, errors.New("connection lost") })
	resp, _, c := rtrDo(t, rtrEarlierRun(r, aFailed, bFailed), rtrChatBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	as := c.Attempts()
	require.Len(t, as, 3)
	assert.Equal(t, "upstream_error", as[1].Err, "b's earlier attempt failed without a response")
	target, _ := c.Served()
	assert.NotEmpty(t, target)
	assert.Equal(t, int64(7), a.Requests()+b.Requests())

	// A dead key stays out for the call even when nothing else is left.
	b.SetFaults(gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{500}})
	aBefore := a.Requests()
	resp, _, c = rtrDo(t, rtrEarlierRun(r, rtrDead("a", 401)), rtrChatBody)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.Equal(t, []string{"a", "b"}, rtrTargets(c))
	assert.Equal(t, aBefore, a.Requests(), "a's key is dead for this call")
}

// A target whose upstream says it is about to run out of requests is passed
// over until its limit resets, before it answers 429.
func TestRouterHintsSteerAway(t *testing.T) {
	clk := gatewaytest.NewClock(rtrEpoch)
	var left atomic.Int64
	left.Store(100)
	a := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{Clock: clk, RateLimitHeaders: func() (int, int) {
		return int(left.Add(-1)), 1_000_000
	}})
	b := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{Clock: clk})
	r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1}, {Provider: b, Weight: 1}},
		router.Config{Clock: clk, HintFloor: 2})

	for range 10 {
		rtrDo(t, r, rtrChatBody)
	}
	assert.Equal(t, int64(5), a.Requests(), "plenty left: an even split")
	left.Store(3) // the next answer says 2 left
	for range 10 {
		rtrDo(t, r, rtrChatBody)
	}
	assert.Equal(t, int64(6), a.Requests(), "at the floor: passed over")
	// The Sim sends no reset time: the hint holds for breaker.DefaultCooldown.
	clk.Advance(breaker.DefaultCooldown - time.Millisecond)
	for range 10 {
		rtrDo(t, r, rtrChatBody)
	}
	assert.Equal(t, int64(6), a.Requests(), "still passed over until the reset")
	clk.Advance(time.Millisecond)
	left.Store(100)
	for range 10 {
		rtrDo(t, r, rtrChatBody)
	}
	assert.Greater(t, a.Requests(), int64(8), "the hint expires")
}

// A hinted target still serves when nothing else can: a hint is a forecast.
func TestRouterHintedTargetServesWhenAlone(t *testing.T) {
	a := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{RateLimitHeaders: func() (int, int) { return 0, 0 }})
	r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1}}, router.Config{})
	for range 3 {
		resp, _, _ := rtrDo(t, r, rtrChatBody)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	}
	assert.Equal(t, int64(3), a.Requests())
}

// Regression: a target that renames the model got a Call of its own; the
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
	sim := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{})
	var sent atomic.Int64
	flaky := rtrFunc("a", func(req *http.Request) (*http.Response, error) {
		if sent.Add(1) <= 2 {
			return &http.Response{StatusCode: http.StatusServiceUnavailable, Header: http.Header{},
				Body: io.NopCloser(strings.NewReader(`{"error":{"message":"busy"}}`)), Request: req}, nil
		}
		return sim.RoundTrip(req)
	})
	clk := gatewaytest.NewClock(rtrEpoch)
	// Ratio 1: a call's deposit is one whole retry, so Available tells
	// whether the call was credited once (+1) or more.
	budget := must(breaker.NewBudget(breaker.BudgetConfig{Ratio: 1, MinRetries: 10, Clock: clk}))
	var seen []string // what the target's own middleware saw: each upstream try
	logging := func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			seen = append(seen, gateway.OutboundFrom(req.Context()).Model)
			return next.RoundTrip(req)
		})
	}
	r := rtrRouter(t, []router.Target{{Provider: flaky, Weight: 1,
		ModelMap: modelMap,
		Middlewares: []gateway.Middleware{
			must(breaker.Retry(breaker.RetryConfig{Budget: budget, Rand: func() float64 { return 0 }, Clock: clk})),
			logging}}},
		router.Config{Budget: budget, Clock: clk})

	before := budget.Available()
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
	assert.Equal(t, []string{wantModel, wantModel, wantModel}, seen, "the target's middlewares see the model sent")
	// One deposit for the call, two withdrawals for the Retry's two retries.
	assert.Equal(t, before+1-2, budget.Available(), "the shared budget is credited once per call")
}

// rtrLog is a logging middleware: it notes, for every round trip it sees,
// the model the attempt sends and the status it got (0 for an error).
type rtrLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *rtrLog) middleware(next http.RoundTripper) http.RoundTripper {
	return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		model := gateway.OutboundFrom(req.Context()).Model
		resp, err := next.RoundTrip(req)
		status := 0
		if err == nil {
			status = resp.StatusCode
		}
		l.mu.Lock()
		l.lines = append(l.lines, fmt.Sprintf("%s %d", model, status))
		l.mu.Unlock()
		return resp, err
	})
}

func (l *rtrLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// The whole stack of layers that may repeat a call, through the client
// entry point: a logging middleware and a Retry outside a router, whose
// primary target has a logging middleware and a Retry of its own and renames
// the model, and whose backup renames it to another. The Call's attempts are
// exactly the upstream tries, each under its target's name with the model
// sent and the status it got; no layer adds one or loses one; and the Budget
// all of them share is credited once for the call.
func TestRouterNestedRetriesRecordUpstreamTriesOnly(t *testing.T) {
	clk := gatewaytest.NewClock(rtrEpoch)
	budget := must(breaker.NewBudget(breaker.BudgetConfig{Ratio: 1, MinRetries: 20, Clock: clk}))
	noJitter := func() float64 { return 0 }

	primary := rtrDead("openai", 503) // always overloaded
	backupSim := gatewaytest.MustNewSim("anthropic", gatewaytest.SimConfig{Models: []string{"claude-sonnet-4.5"}})
	var backupTries atomic.Int64
	backup := rtrFunc("anthropic", func(req *http.Request) (*http.Response, error) {
		if backupTries.Add(1) == 1 { // fails its first try only
			req.Body.Close()
			return &http.Response{StatusCode: http.StatusInternalServerError, Header: http.Header{},
				Body: io.NopCloser(strings.NewReader(`{"error":{"message":"boom"}}`)), Request: req}, nil
		}
		return backupSim.RoundTrip(req)
	})
	var inner, outer rtrLog
	r := rtrRouter(t, []router.Target{
		{Name: "primary", Provider: primary, Weight: 1, ModelMap: map[string]string{"gpt-4.1": "prod-gpt41"},
			Middlewares: []gateway.Middleware{
				must(breaker.Retry(breaker.RetryConfig{MaxAttempts: 2, Budget: budget, Rand: noJitter, Clock: clk})),
				inner.middleware,
			}},
		{Name: "backup", Provider: backup, Weight: 1, Tier: 1, ModelMap: map[string]string{"gpt-4.1": "claude-sonnet-4.5"}},
	}, router.Config{Budget: budget, Clock: clk})
	rt := gateway.Chain(r, outer.middleware,
		must(breaker.Retry(breaker.RetryConfig{MaxAttempts: 2, Budget: budget, Rand: noJitter, Clock: clk})))
	var call *gateway.Call
	client := gateway.NewClient(rtrCallOf(&call)(rt), gateway.WithClock(clk))

	before := budget.Available()
	resp, err := client.Post(rtrChatURL, "application/json", strings.NewReader(rtrChatBody))
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.NotNil(t, call)

	// Run 1 of the router: primary twice (its own Retry), then backup (500).
	// The outer Retry runs the router again: both failed the call, so the
	// tiers are tried in order again: primary twice more, then backup (200).
	type try struct {
		Target, Model string
		Status        int
	}
	want := []try{
		{"primary", "prod-gpt41", 503}, {"primary", "prod-gpt41", 503}, {"backup", "claude-sonnet-4.5", 500},
		{"primary", "prod-gpt41", 503}, {"primary", "prod-gpt41", 503}, {"backup", "claude-sonnet-4.5", 200},
	}
	var got []try
	for i, a := range call.Attempts() {
		got = append(got, try{a.Target, a.Model, a.Status})
		assert.Equal(t, i+1, a.N)
		assert.Empty(t, a.Err, "attempt %d", i+1)
	}
	assert.Equal(t, want, got, "the Call's attempts are the upstream tries")
	assert.Equal(t, int64(4), primary.Requests())
	assert.Equal(t, int64(2), backupTries.Load())
	target, model := call.Served()
	assert.Equal(t, "backup", target)
	assert.Equal(t, "claude-sonnet-4.5", model)

	// Each middleware saw what it wraps: the inner log each try of primary,
	// the outer log the call (the outer Retry is inside it).
	assert.Equal(t, []string{"prod-gpt41 503", "prod-gpt41 503", "prod-gpt41 503", "prod-gpt41 503"}, inner.get())
	assert.Equal(t, []string{"gpt-4.1 200"}, outer.get())

	// One deposit for the call; five withdrawals: two by primary's Retry,
	// two router fallbacks, one outer retry.
	assert.Equal(t, before+1-5, budget.Available(), "the shared budget is credited once per call")

	// A second call credits it once more, and no more.
	before = budget.Available()
	backupTries.Store(1) // backup healthy from now on
	resp, err = client.Post(rtrChatURL, "application/json", strings.NewReader(rtrChatBody))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	got = nil
	for _, a := range call.Attempts() {
		got = append(got, try{a.Target, a.Model, a.Status})
	}
	assert.Equal(t, []try{{"primary", "prod-gpt41", 503}, {"primary", "prod-gpt41", 503}, {"backup", "claude-sonnet-4.5", 200}}, got)
	// The fallback went to backup, whose latest outcome (the first call's
	// end) was a success, but which failed one of its two tries of late: not
	// healthy enough for credit, so the fallback won the budget.
	assert.Equal(t, before+1-2, budget.Available(), "one deposit, one retry and one fallback withdrawn")
}

// Regression: a router as the target of another was put behind an attempt
// boundary of the outer router's (its Dispatcher-ness hidden under the
// target's name), so each call recorded one more attempt, under the outer
// target's name, beside its upstream tries; and the inner router routed the
// model asked, not the model the outer one sent it after its ModelMap.
func TestRouterNestedRouterRecordsUpstreamTriesOnly(t *testing.T) {
	a := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{Models: []string{"llama-3.3"}, Seed: 1,
		Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{503}}})
	b := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{Models: []string{"llama-3.3"}})
	inner := rtrRouter(t, []router.Target{{Provider: a, Weight: 1}, {Provider: b, Weight: 1, Tier: 1}}, router.Config{})
	outer := rtrRouter(t, []router.Target{{Name: "pool", Provider: inner, Weight: 1,
		ModelMap: map[string]string{"gpt-4.1": "llama-3.3"}}}, router.Config{})

	for _, stream := range []bool{false, true} {
		body := rtrChatBody
		if stream {
			body = rtrStreamBody
		}
		resp, got, call := rtrDo(t, outer, body)
		require.NotNil(t, resp)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(got))
		as := call.Attempts()
		require.Len(t, as, 2, "stream %v: %+v", stream, as)
		assert.Equal(t, []string{"a", "b"}, rtrTargets(call))
		for _, at := range as {
			assert.Equal(t, "llama-3.3", at.Model, "the model sent")
			assert.Empty(t, at.Err)
		}
		assert.Equal(t, []int{503, 200}, []int{as[0].Status, as[1].Status})
		target, model := call.Served()
		assert.Equal(t, "b", target)
		assert.Equal(t, "llama-3.3", model)
		assert.Equal(t, "gpt-4.1", call.Model)
	}
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
	sim := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{})
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
