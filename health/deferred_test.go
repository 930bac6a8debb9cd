package health_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/health"
)

// A Deferred Checker gives its targets their gates at once (reading
// healthy) but probes nothing until Start: no goroutine, no timer, however
// far its clock moves. Start begins the probes of every target, those an
// Update added before it included; an Update after Start starts its new
// targets' at once. Start after Close does nothing.
func TestDeferredCheckerProbesFromStart(t *testing.T) {
	clk := gatewaytest.NewClock(epoch)
	a, b := newFakeProber("a"), newFakeProber("b")
	cfg := health.Config{Interval: 10 * time.Second, Jitter: 0.1, Timeout: time.Second, Clock: clk, Seed: 7, Deferred: true}
	c := newChecker(t, []health.Target{{Provider: a}}, cfg)
	gate := c.Healthy("a")
	require.NotNil(t, gate, "the gate exists before the probes start")
	assert.True(t, gate())

	require.NoError(t, c.Update([]health.Target{{Provider: a}, {Provider: b}}))
	clk.Advance(time.Hour)
	assert.Zero(t, clk.Timers(), "no probe loop waits before Start")
	assert.Zero(t, probesOf(c, "a")+probesOf(c, "b"))

	c.Start()
	c.Start()         // a second Start changes nothing
	clk.BlockUntil(2) // both loops wait for their first probe
	clk.Advance(time.Duration(float64(cfg.Interval) * cfg.Jitter))
	waitFor(t, func() bool { return probesOf(c, "a") > 0 && probesOf(c, "b") > 0 })

	require.NoError(t, c.Close())
	c.Start()
	assert.Zero(t, clk.Timers(), "Start after Close starts nothing")
}
