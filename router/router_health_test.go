package router_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
)

// gate is a Target.Healthy a test flips.
type gate struct{ ok atomic.Bool }

func newGate(ok bool) *gate {
	g := &gate{}
	g.ok.Store(ok)
	return g
}

func (g *gate) healthy() bool { return g.ok.Load() }

// A target failing its health check gets no call and no attempt, and
// takes calls again as soon as it passes.
func TestRouterPassesOverATargetFailingItsHealthCheck(t *testing.T) {
	a := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{})
	b := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{})
	gb := newGate(false)
	r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1}, {Provider: b, Weight: 1, Healthy: gb.healthy}}, router.Config{})

	for range 20 {
		resp, _, call := rtrDo(t, r, rtrChatBody)
		require.NotNil(t, resp)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, []string{"a"}, rtrTargets(call), "b is passed over before any attempt")
	}
	assert.Zero(t, b.Requests())

	gb.ok.Store(true)
	for range 20 {
		resp, _, _ := rtrDo(t, r, rtrChatBody)
		require.NotNil(t, resp)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	assert.Equal(t, int64(10), b.Requests(), "back in: its round-robin share")
}

// A call that fails on the only target passing its check does not fall back
// to one failing it: the router answers with the failure, and the
// unhealthy target's breaker learns nothing.
func TestRouterDoesNotFallBackToATargetFailingItsHealthCheck(t *testing.T) {
	dead := rtrDead("dead", http.StatusServiceUnavailable)
	sick := gatewaytest.MustNewSim("sick", gatewaytest.SimConfig{})
	r := rtrRouter(t, []router.Target{
		{Provider: dead, Weight: 1},
		{Provider: sick, Weight: 1, Healthy: newGate(false).healthy},
	}, router.Config{})

	resp, _, call := rtrDo(t, r, rtrChatBody)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "the healthy target's failure, as it came")
	assert.Equal(t, []string{"dead"}, rtrTargets(call))
	assert.Zero(t, sick.Requests())
}

// When no target serving a model passes its health check, the checks are
// ignored (panic mode): the call is tried on the breakers alone, and
// falls back among the unhealthy targets as among any.
func TestRouterTriesEveryTargetWhenAllFailTheirHealthChecks(t *testing.T) {
	dead := rtrDead("dead", http.StatusInternalServerError)
	live := gatewaytest.MustNewSim("live", gatewaytest.SimConfig{})
	down := newGate(false).healthy
	r := rtrRouter(t, []router.Target{
		{Provider: dead, Weight: 1, Healthy: down},
		{Provider: live, Weight: 1, Tier: 1, Healthy: down},
	}, router.Config{})

	resp, _, call := rtrDo(t, r, rtrChatBody)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"dead", "live"}, rtrTargets(call), "tier order, then fallback, as without checks")
	assert.False(t, r.Ready("gpt-4.1"), "readiness still says no target can serve")
}

// Panic mode does not bypass a breaker: with every target unhealthy and
// open, the answer is no_healthy_provider, at once.
func TestRouterAllUnhealthyAndOpenIsNoHealthyProvider(t *testing.T) {
	clk := gatewaytest.NewClock(rtrEpoch)
	dead := rtrDead("dead", http.StatusInternalServerError)
	g := newGate(true)
	r := rtrRouter(t, []router.Target{{Provider: dead, Weight: 1, Healthy: g.healthy}}, router.Config{Clock: clk})
	for range breaker.DefaultFailureThreshold {
		rtrDo(t, r, rtrChatBody)
	}
	require.Equal(t, breaker.Open, r.Status()[0].Breaker)
	g.ok.Store(false)
	sent := dead.Requests()

	resp, body, call := rtrDo(t, r, rtrChatBody)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Contains(t, string(body), "no_healthy_provider")
	assert.Empty(t, call.Attempts())
	assert.Equal(t, sent, dead.Requests())
}

// An unhealthy target is not waited for while a healthy one exists: a
// healthy target open for long and an unhealthy one cooling down briefly
// give no_healthy_provider at once, not a wait for the unhealthy one.
func TestRouterDoesNotWaitForAnUnhealthyTarget(t *testing.T) {
	clk := gatewaytest.NewClock(rtrEpoch)
	open := must(breaker.NewCircuitBreaker("a", breaker.Config{Clock: clk}))
	for range breaker.DefaultFailureThreshold {
		p, err := open.Acquire()
		require.NoError(t, err)
		p.Done(breaker.Retryable)
	}
	require.Equal(t, breaker.Open, open.State())
	cooling := must(breaker.NewCircuitBreaker("b", breaker.Config{Clock: clk}))
	cooling.CoolDown(500 * time.Millisecond)
	b := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{})
	r := rtrRouter(t, []router.Target{
		{Provider: gatewaytest.MustNewSim("a", gatewaytest.SimConfig{}), Weight: 1, Breaker: open},
		{Provider: b, Weight: 1, Breaker: cooling, Healthy: newGate(false).healthy},
	}, router.Config{Clock: clk})

	resp, body, _ := rtrDo(t, r, rtrChatBody) // a wait would block on the fake clock: the test would hang
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Contains(t, string(body), "no_healthy_provider")
	assert.Zero(t, b.Requests())
}

// The health gate is kept by target name across Update when the new Target
// brings none, and replaced when it brings one.
func TestRouterUpdateKeepsTheHealthGateByName(t *testing.T) {
	a := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{})
	b := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{})
	down := newGate(false)
	r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1}, {Provider: b, Weight: 1, Healthy: down.healthy}}, router.Config{})

	require.NoError(t, r.Update([]router.Target{{Provider: a, Weight: 1}, {Provider: b, Weight: 2}}))
	assert.Equal(t, []router.TargetStatus{
		{Name: "a", Breaker: breaker.Closed, Healthy: true, CanServe: true},
		{Name: "b", Breaker: breaker.Closed, Healthy: false, CanServe: false},
	}, r.Status())
	for range 10 {
		rtrDo(t, r, rtrChatBody)
	}
	assert.Zero(t, b.Requests(), "the gate survived the Update")

	require.NoError(t, r.Update([]router.Target{{Provider: a, Weight: 1}, {Provider: b, Weight: 1, Healthy: newGate(true).healthy}}))
	assert.True(t, r.Status()[1].Healthy, "a new gate replaces the old")
}

// Ready is true while some target serving the model is neither open nor
// failing its check; false for a model no target serves.
func TestRouterReady(t *testing.T) {
	clk := gatewaytest.NewClock(rtrEpoch)
	a := rtrDead("a", http.StatusInternalServerError)
	gb := newGate(true)
	r := rtrRouter(t, []router.Target{
		{Provider: a, Weight: 1, Models: []string{"gpt-4.1", "only-a"}},
		{Provider: gatewaytest.MustNewSim("b", gatewaytest.SimConfig{}), Weight: 1, Models: []string{"gpt-4.1"}, Healthy: gb.healthy},
	}, router.Config{Clock: clk})
	assert.True(t, r.Ready("gpt-4.1"))
	assert.True(t, r.Ready("only-a"))
	assert.False(t, r.Ready("unknown"))

	cbA := must(breaker.NewCircuitBreaker("a", breaker.Config{Clock: clk}))
	for range breaker.DefaultFailureThreshold {
		p, err := cbA.Acquire()
		require.NoError(t, err)
		p.Done(breaker.Retryable)
	}
	require.NoError(t, r.Update([]router.Target{
		{Provider: a, Weight: 1, Models: []string{"gpt-4.1", "only-a"}, Breaker: cbA},
		{Provider: gatewaytest.MustNewSim("b", gatewaytest.SimConfig{}), Weight: 1, Models: []string{"gpt-4.1"}},
	}))
	assert.False(t, r.Ready("only-a"), "its one target is open")
	assert.True(t, r.Ready("gpt-4.1"), "b can serve it")
	gb.ok.Store(false)
	assert.False(t, r.Ready("gpt-4.1"), "a open, b failing its check")
	cooling := r.Status()
	assert.False(t, cooling[0].CanServe)
	assert.False(t, cooling[1].CanServe)

	clk.Advance(breaker.DefaultDelay)
	assert.True(t, r.Ready("only-a"), "past its delay the breaker is half-open: it takes probes")

	cbA.CoolDown(time.Minute)
	assert.True(t, r.Ready("only-a"), "a cooldown after a 429 is no outage")
}
