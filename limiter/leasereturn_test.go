package limiter

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// takenInRedis reads how many units a shared bucket has handed out and not
// refilled yet, by Redis's clock.
func takenInRedis(t *testing.T, l *Limiter, rule string) int64 {
	t.Helper()
	return takenAt(t, l, leaseKey(t, l, rule))
}

// leaseKey is the Redis key of the one lease of a shared rule.
func leaseKey(t *testing.T, l *Limiter, rule string) string {
	t.Helper()
	var key string
	stateOf(t, l, rule).each(func(e *entry) {
		e.ls.mu.Lock()
		key = e.ls.redisKey
		e.ls.mu.Unlock()
	})
	require.NotEmpty(t, key)
	return key
}

// takenAt reads how many units the shared bucket at key (1,000 a minute)
// has handed out and not refilled yet, by Redis's clock.
func takenAt(t *testing.T, l *Limiter, key string) int64 {
	t.Helper()
	rdb := l.cfg.Redis
	v, err := rdb.Get(context.Background(), key).Int64()
	if err != nil {
		return 0 // no key: a full bucket
	}
	now, err := rdb.Time(context.Background()).Result()
	require.NoError(t, err)
	iv := time.Minute.Microseconds() / 1000 // µs per unit at 1,000 a minute
	return (v - now.UnixMicro() + iv/2) / iv
}

// A lease's unused units go back to Redis after LeaseIdle without use (the
// Limiter's one goroutine, on its clock) and at Close, which stops that
// goroutine: nothing outlives it (goleak).
func TestUnusedLeasesGoBackToRedis(t *testing.T) {
	rdb, prefix := redisForTest(t)
	clk := gatewaytest.NewClock(t0)
	l, err := New(Config{Clock: clk, Redis: rdb, Prefix: prefix, Rules: []Rule{
		{Name: "fleet", Unit: Requests, Limit: 1000, Per: Minute, Shared: true}}})
	require.NoError(t, err)
	c := client(l, sim(gatewaytest.SimConfig{}))
	require.Equal(t, 200, do(t, c, gateway.Caller{}, callBody("m", false, 0)).status)
	leased := takenInRedis(t, l, "fleet")
	assert.Equal(t, int64(12), leased, "the first lease: a quarter of 5% of 1,000")

	require.True(t, clk.WaitForTimers(1, 5*time.Second), "the lease goroutine waits on the clock")
	clk.Advance(DefaultLeaseIdle)
	require.True(t, clk.WaitForTimers(1, 5*time.Second))
	clk.Advance(DefaultLeaseIdle)
	require.Eventually(t, func() bool { return takenInRedis(t, l, "fleet") <= 1 }, 5*time.Second, 10*time.Millisecond,
		"an idle lease went back: only the unit spent is taken")

	for range 3 {
		require.Equal(t, 200, do(t, c, gateway.Caller{}, callBody("m", false, 0)).status)
	}
	assert.Greater(t, takenInRedis(t, l, "fleet"), int64(4))
	require.NoError(t, l.Close())
	assert.LessOrEqual(t, takenInRedis(t, l, "fleet"), int64(4), "Close gave the rest back")
}

// Update that drops a shared rule (or makes it another kind) gives its
// leases back to Redis at once: no instance keeps units of a limit it no
// longer decides, which the rest of the fleet could use.
func TestUpdateGivesBackTheLeasesOfARuleItDrops(t *testing.T) {
	rdb, prefix := redisForTest(t)
	clk := gatewaytest.NewClock(t0)
	l, err := New(Config{Clock: clk, Redis: rdb, Prefix: prefix, Rules: []Rule{
		{Name: "fleet", Unit: Requests, Limit: 1000, Per: Minute, Shared: true}}})
	require.NoError(t, err)
	defer l.Close()
	c := client(l, sim(gatewaytest.SimConfig{}))
	require.Equal(t, 200, do(t, c, gateway.Caller{}, callBody("m", false, 0)).status)
	key := leaseKey(t, l, "fleet")
	require.Equal(t, int64(12), takenAt(t, l, key), "the first lease")

	require.NoError(t, l.Update([]Rule{{Name: "fleet", Unit: Requests, Limit: 1000, Per: Minute}}))
	assert.Equal(t, int64(1), takenAt(t, l, key), "the lease went back: only the unit spent is taken")
}

// After Close, shared decisions still work, each asking Redis for what it
// needs and no more: no lease is taken that no goroutine would give back.
func TestAfterCloseDecisionsTakeNoLease(t *testing.T) {
	rdb, prefix := redisForTest(t)
	clk := gatewaytest.NewClock(t0)
	l, err := New(Config{Clock: clk, Redis: rdb, Prefix: prefix, Rules: []Rule{
		{Name: "fleet", Unit: Requests, Limit: 1000, Per: Minute, Shared: true},
		{Name: "fleet-tpm", Unit: Tokens, Limit: 1000, Per: Minute, Shared: true}}})
	require.NoError(t, err)
	require.NoError(t, l.Close())
	var u usages
	c := client(l, sim(gatewaytest.SimConfig{CompletionTokens: 5}), gateway.WithObserver(u.observe))
	for range 3 {
		require.Equal(t, 200, do(t, c, gateway.Caller{}, callBody("m", false, 20)).status)
	}
	assert.Equal(t, int64(3), takenInRedis(t, l, "fleet"), "three calls, three units, no lease")
	require.Positive(t, u.sum())
	assert.Equal(t, u.sum(), takenInRedis(t, l, "fleet-tpm"), "each reservation settled to its usage, the rest given back")
}
