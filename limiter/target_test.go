package limiter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
)

// A provider account's own limit (Target) makes the router pass over the
// spent target to the next one: the refusal is no attempt, and no failure in
// the target's breaker, even one that opens at the first failure.
func TestRouterPassesOverATargetWhoseAccountLimitIsSpent(t *testing.T) {
	clk := gatewaytest.NewClock(t0)
	l := newTestLimiter(t, clk, Rule{Name: "account-rpm", Dimensions: []Dimension{Target}, Unit: Requests, Limit: 2, Per: Minute})
	a := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{Clock: clk})
	b := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{Clock: clk})
	cbA, err := breaker.NewCircuitBreaker("a", breaker.Config{Clock: clk, FailureThreshold: 1})
	require.NoError(t, err)
	rtr, err := router.New("llm", []router.Target{
		{Provider: a, Weight: 1, Tier: 0, Breaker: cbA, Middlewares: []gateway.Middleware{l.Target("a")}},
		{Provider: b, Weight: 1, Tier: 1},
	}, router.Config{Clock: clk})
	require.NoError(t, err)
	var calls []*gateway.Call
	c := gateway.NewClient(rtr, gateway.WithClock(clk), gateway.WithObserver(func(c *gateway.Call) { calls = append(calls, c) }))
	for range 5 {
		require.Equal(t, 200, do(t, c, gateway.Caller{}, callBody("m", false, 0)).status)
	}
	// The router steers away from a once its limit's headers say it is
	// nearly spent (router.Config.HintFloor), or at the latest when the
	// limit refuses.
	assert.Equal(t, int64(1), a.Requests(), "a's remaining 1 is at the router's hint floor")
	assert.Equal(t, int64(4), b.Requests())
	for i, call := range calls {
		require.Len(t, call.Attempts(), 1, "call %d: no refusal is an attempt", i)
	}
	assert.Equal(t, breaker.Closed, cbA.State(), "no breaker failure")

	// With no hint floor only the refusal steers: a serves its 2, then is
	// passed over, and its breaker, which opens at the first failure,
	// counts none.
	clk.Advance(time.Hour)
	a2 := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{Clock: clk})
	b2 := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{Clock: clk})
	cbA2, err := breaker.NewCircuitBreaker("a", breaker.Config{Clock: clk, FailureThreshold: 1})
	require.NoError(t, err)
	rtr, err = router.New("llm", []router.Target{
		{Provider: a2, Weight: 1, Tier: 0, Breaker: cbA2, Middlewares: []gateway.Middleware{l.Target("a")}},
		{Provider: b2, Weight: 1, Tier: 1},
	}, router.Config{Clock: clk, DisableHints: true})
	require.NoError(t, err)
	calls = nil
	c = gateway.NewClient(rtr, gateway.WithClock(clk), gateway.WithObserver(func(c *gateway.Call) { calls = append(calls, c) }))
	for range 5 {
		require.Equal(t, 200, do(t, c, gateway.Caller{}, callBody("m", false, 0)).status)
	}
	assert.Equal(t, int64(2), a2.Requests(), "the account's 2 a minute")
	assert.Equal(t, int64(3), b2.Requests())
	for i, call := range calls {
		require.Len(t, call.Attempts(), 1, "call %d: the refusal is no attempt", i)
		served, _ := call.Served()
		assert.Equal(t, map[bool]string{true: "a", false: "b"}[i < 2], served)
	}
	assert.Equal(t, breaker.Closed, cbA2.State(), "a refusal is no breaker failure")

	clk.Advance(31 * time.Second)
	require.Equal(t, 200, do(t, c, gateway.Caller{}, callBody("m", false, 0)).status)
	assert.Equal(t, int64(3), a2.Requests(), "a is used again once its account has room")
}

// At a target, the x-ratelimit-remaining-* headers the router reads say the
// least of what the upstream and the account's limit have left.
func TestTargetHeadersTellTheRouterTheLeastLeft(t *testing.T) {
	clk := gatewaytest.NewClock(t0)
	l := newTestLimiter(t, clk, Rule{Name: "account-rpm", Dimensions: []Dimension{Target}, Unit: Requests, Limit: 10, Per: Minute})
	for _, tc := range []struct {
		upstream int
		want     string
	}{{100, "9"}, {3, "3"}} {
		up := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{RateLimitHeaders: func() (int, int) { return tc.upstream, 1 << 20 }})
		resp := do(t, gateway.NewClient(gateway.Chain(up, l.Target("a")), gateway.WithClock(clk)), gateway.Caller{}, callBody("m", false, 0))
		assert.Equal(t, tc.want, resp.header.Get("X-Ratelimit-Remaining-Requests"))
		l = newTestLimiter(t, clk, l.Rules()...)
	}
}

// A target's refusal tells the caller nothing of the provider account's
// limits: the x-ratelimit headers a caller gets are its own limits'.
func TestTargetRefusalSetsNoCallerHeaders(t *testing.T) {
	clk := gatewaytest.NewClock(t0)
	l := newTestLimiter(t, clk,
		Rule{Name: "account-rpm", Dimensions: []Dimension{Target}, Unit: Requests, Limit: 1, Per: Minute},
		Rule{Name: "caller-rpm", Unit: Requests, Limit: 100, Per: Minute})
	a := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{Clock: clk})
	rtr, err := router.New("llm", []router.Target{{Provider: a, Weight: 1, Middlewares: []gateway.Middleware{l.Target("a")}}},
		router.Config{Clock: clk, DisableHints: true})
	require.NoError(t, err)
	c := gateway.NewClient(gateway.Chain(rtr, l.Middleware()), gateway.WithClock(clk))
	require.Equal(t, 200, do(t, c, gateway.Caller{}, callBody("m", false, 0)).status)
	r := do(t, c, gateway.Caller{}, callBody("m", false, 0))
	assert.Equal(t, 503, r.status, "the only target's account is spent: no healthy provider")
	assert.Equal(t, "60", r.header.Get("Retry-After"), "when the account has room again (its breaker's cooldown)")
	assert.Equal(t, "100", r.header.Get("X-Ratelimit-Limit-Requests"), "the caller's own limit, not the account's")
	assert.Equal(t, "98", r.header.Get("X-Ratelimit-Remaining-Requests"))
}
