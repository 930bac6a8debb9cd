package health_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/health"
)

func newChecker(t *testing.T, targets []health.Target, cfg health.Config) *health.Checker {
	t.Helper()
	c, err := health.NewChecker(targets, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// N failed probes in a row mark a target down and M passed ones in a row
// bring it back; a run broken by the other outcome starts again; each
// transition is told exactly once, the way down with the deciding error.
func TestCheckerMarksDownAfterNFailuresAndUpAfterMSuccesses(t *testing.T) {
	clk := gatewaytest.NewClock(epoch)
	p := newFakeProber("up")
	var ch changes
	cfg := health.Config{Interval: 10 * time.Second, Jitter: 0.1, Timeout: time.Second,
		UnhealthyThreshold: 3, HealthyThreshold: 2, Clock: clk, Seed: 7, OnChange: ch.on}
	c := newChecker(t, []health.Target{{Provider: p}}, cfg)
	gate := c.Healthy("up")
	require.NotNil(t, gate)

	script := []struct {
		fail    bool
		healthy bool
	}{
		{true, true}, {true, true}, {false, true}, // a pass breaks the run
		{true, true}, {true, true}, {true, false}, // the third in a row: down
		{true, false}, {false, false}, {true, false}, // one pass is not M
		{false, false}, {false, true}, // the second in a row: up
		{false, true}, {false, true},
	}
	for i, s := range script {
		p.set(s.fail, false)
		step(t, clk, c, "up", cfg)
		assert.Equal(t, s.healthy, gate(), "after probe %d", i)
	}

	got := ch.list()
	require.Len(t, got, 2, "one report per transition")
	assert.Equal(t, "up", got[0].target)
	assert.False(t, got[0].healthy)
	require.Error(t, got[0].err)
	assert.Equal(t, `health: target "up": probe failed: upstream down`, got[0].err.Error())
	assert.Equal(t, change{"up", true, nil}, got[1])

	st := c.Status()
	require.Len(t, st, 1)
	assert.Equal(t, health.TargetStatus{Name: "up", Healthy: true, ConsecutiveSuccesses: 4,
		Probes: uint64(len(script)), Failures: 7, Transitions: 2, LastProbe: clk.Now()}, st[0])
}

// A probe that does not answer within Timeout (on the Checker's clock) is
// a failure wrapping ErrProbeTimeout, and its context is cancelled.
func TestCheckerProbeTimeout(t *testing.T) {
	clk := gatewaytest.NewClock(epoch)
	p := newFakeProber("slow")
	p.set(false, true)
	var ch changes
	cfg := health.Config{Interval: 10 * time.Second, Timeout: 2 * time.Second, UnhealthyThreshold: 1,
		Clock: clk, Seed: 1, OnChange: ch.on}
	c := newChecker(t, []health.Target{{Provider: p}}, cfg)

	clk.BlockUntil(1)
	clk.Advance(cfg.Interval)
	<-p.called
	clk.BlockUntil(1) // the timeout's timer
	clk.Advance(cfg.Timeout - time.Nanosecond)
	assert.Zero(t, probesOf(c, "slow"), "not yet timed out")
	p.mu.Lock()
	assert.Equal(t, 1, p.calls, "one probe at a time per target")
	p.mu.Unlock()
	clk.Advance(time.Nanosecond)
	waitFor(t, func() bool { return len(ch.list()) == 1 })

	got := ch.list()[0]
	assert.False(t, got.healthy)
	require.ErrorIs(t, got.err, health.ErrProbeTimeout)
	assert.Equal(t, `health: target "slow": health: probe timed out after 2s`, got.err.Error())
	p.mu.Lock()
	assert.Equal(t, []error{context.Canceled}, p.ended)
	p.mu.Unlock()
}

// Probes wait Interval ± Jitter: none before Interval×(1−Jitter) after the
// previous one, and one by Interval×(1+Jitter).
func TestCheckerWaitsWithinTheJitterBounds(t *testing.T) {
	clk := gatewaytest.NewClock(epoch)
	p := newFakeProber("j")
	cfg := health.Config{Interval: 10 * time.Second, Jitter: 0.2, Timeout: time.Second, Clock: clk, Seed: 3}
	c := newChecker(t, []health.Target{{Provider: p}}, cfg)
	step(t, clk, c, "j", cfg) // the first probe, within [0, 2s]
	for i := range 20 {
		before := probesOf(c, "j")
		clk.Advance(8*time.Second - time.Nanosecond)
		assert.Equal(t, 1, clk.Timers(), "round %d: the wait has not ended before Interval×(1−Jitter)", i)
		assert.Equal(t, before, probesOf(c, "j"))
		clk.Advance(4*time.Second + time.Nanosecond)
		waitFor(t, func() bool { return probesOf(c, "j") == before+1 })
		clk.BlockUntil(1)
	}
}

// Close cancels a probe in progress, waits for its goroutine (goleak checks
// none is left) and tells OnChange nothing; every gate then reads healthy.
func TestCheckerCloseStopsEveryProbe(t *testing.T) {
	clk := gatewaytest.NewClock(epoch)
	hung, down := newFakeProber("hung"), newFakeProber("down")
	hung.set(false, true)
	down.set(true, false)
	var ch changes
	cfg := health.Config{UnhealthyThreshold: 1, Clock: clk, Seed: 5, OnChange: ch.on}
	c, err := health.NewChecker([]health.Target{{Provider: hung}, {Provider: down}}, cfg)
	require.NoError(t, err)
	downGate := c.Healthy("down")
	clk.BlockUntil(2)
	clk.Advance(health.DefaultInterval)
	<-hung.called
	waitFor(t, func() bool { return !downGate() })

	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "idempotent")
	assert.True(t, downGate(), "no longer probed: no opinion")
	assert.Equal(t, []change{{"down", false, ch.list()[0].err}}, ch.list(), "the cancelled probe is no failure")
	hung.mu.Lock()
	assert.Equal(t, []error{context.Canceled}, hung.ended)
	hung.mu.Unlock()
	assert.Empty(t, c.Status())
	assert.ErrorIs(t, c.Update(nil), health.ErrClosed)
}

// Update keeps a staying target's health, probes a new one, stops a removed
// one (its gate then reads healthy) and never probes a Provider that cannot
// check itself.
func TestCheckerUpdate(t *testing.T) {
	clk := gatewaytest.NewClock(epoch)
	a := newFakeProber("a")
	a.set(true, false)
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	cfg := health.Config{Interval: time.Minute, Jitter: 0.1, UnhealthyThreshold: 1, Clock: clk, Seed: 9}
	c := newChecker(t, []health.Target{{Provider: a}, {Provider: sim}}, cfg)
	assert.Nil(t, c.Healthy("sim"), "the simulator is not probed")
	assert.Nil(t, c.Healthy("unknown"))
	gateA := c.Healthy("a")
	step(t, clk, c, "a", cfg)
	require.False(t, gateA())

	b := newFakeProber("b")
	require.NoError(t, c.Update([]health.Target{{Provider: a}, {Provider: b}}))
	assert.False(t, c.Healthy("a")(), "a keeps its health")
	assert.True(t, c.Healthy("b")(), "a new target starts healthy")
	assert.Len(t, c.Status(), 2)

	require.NoError(t, c.Update([]health.Target{{Provider: b}}))
	assert.True(t, gateA(), "removed: no opinion")
	assert.Nil(t, c.Healthy("a"))
	require.Len(t, c.Status(), 1)
	assert.Equal(t, "b", c.Status()[0].Name)

	err := c.Update([]health.Target{{Provider: b}, {Name: "b", Provider: a}})
	require.ErrorIs(t, err, health.ErrConfig)
	assert.NotNil(t, c.Healthy("b"), "a bad Update changes nothing")
}

func TestCheckerRejectsBadConfig(t *testing.T) {
	p := newFakeProber("p")
	for name, tc := range map[string]struct {
		targets []health.Target
		cfg     health.Config
	}{
		"negative interval":         {cfg: health.Config{Interval: -1}},
		"negative timeout":          {cfg: health.Config{Timeout: -1}},
		"jitter 1":                  {cfg: health.Config{Jitter: 1}},
		"negative jitter":           {cfg: health.Config{Jitter: -0.1}},
		"negative threshold":        {cfg: health.Config{UnhealthyThreshold: -1}},
		"huge threshold":            {cfg: health.Config{HealthyThreshold: 1001}},
		"timeout beyond interval":   {cfg: health.Config{Interval: time.Second, Timeout: 2 * time.Second}},
		"no provider":               {targets: []health.Target{{Name: "x"}}},
		"duplicate name":            {targets: []health.Target{{Provider: p}, {Name: "p", Provider: p}}},
		"no name from the provider": {targets: []health.Target{{Provider: newFakeProber("")}}},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := health.NewChecker(tc.targets, tc.cfg)
			assert.Nil(t, c)
			assert.ErrorIs(t, err, health.ErrConfig)
		})
	}
	err := health.Config{Interval: -1, Jitter: 2}.Validate()
	assert.Len(t, err.(interface{ Unwrap() []error }).Unwrap(), 2, "every error at once")
	c, err := health.NewChecker(nil, health.Config{Interval: time.Second})
	require.NoError(t, err, "a short interval takes a timeout within it")
	require.NoError(t, c.Close())
}
