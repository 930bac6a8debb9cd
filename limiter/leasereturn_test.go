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
	var key string
	stateOf(t, l, rule).each(func(e *entry) {
		e.ls.mu.Lock()
		key = e.ls.redisKey
		e.ls.mu.Unlock()
	})
	require.NotEmpty(t, key)
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
