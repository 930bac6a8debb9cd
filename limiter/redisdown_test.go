package limiter

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// RELIABILITY case 17: Redis frozen, then killed and restarted mid-run (a
// redis-server of the test's own, on its own port): each rule's policy
// decides within 250 ms, every such decision is counted, and the shared
// limits come back by themselves once Redis answers again.
func TestRedisDownFailsOpenOrClosedAndRecovers(t *testing.T) {
	srv := startOwnRedis(t)
	rdb := newRedisClient(srv.addr())
	defer rdb.Close()
	clk := gatewaytest.NewClock(t0) // drives the backoff; Redis keeps its own time
	// A lease of 1 (20 × 5%): every decision asks Redis.
	l := newSharedLimiter(t, rdb, "llmgate:test:limiter:down:", clk,
		Rule{Name: "open", Unit: Requests, Limit: 20, Per: Minute, Shared: true, FailOpen: true, Models: []string{"open"}},
		Rule{Name: "closed", Unit: Requests, Limit: 20, Per: Minute, Shared: true, Models: []string{"closed"}})
	c := client(l, sim(gatewaytest.SimConfig{}))
	call := func(model string) (reply, time.Duration) {
		start := time.Now()
		r := do(t, c, gateway.Caller{}, callBody(model, false, 0))
		return r, time.Since(start)
	}
	r, _ := call("open")
	require.Equal(t, 200, r.status)
	r, _ = call("closed")
	require.Equal(t, 200, r.status)
	require.Equal(t, uint64(2), l.Stats().SharedRedis)

	srv.freeze() // commands hang until their deadline
	r, took := call("closed")
	assert.Equal(t, 429, r.status, "fail closed")
	assert.True(t, errors.Is(r.err, ErrRateLimited))
	assert.NotEmpty(t, r.header.Get("Retry-After"))
	assert.Less(t, took, 250*time.Millisecond, "a decision within 250 ms of a hung Redis")
	r, took = call("open")
	assert.Equal(t, 200, r.status, "fail open")
	assert.Less(t, took, 50*time.Millisecond, "Redis is not waited for again during the backoff")
	s := l.Stats()
	assert.Equal(t, uint64(1), s.RedisErrors)
	assert.Equal(t, uint64(1), s.FailClosed)
	assert.Equal(t, uint64(1), s.FailOpen)

	srv.thaw()
	srv.stop() // killed, by its PID, and started again on the same port, empty
	srv.start("")
	recovered := false
	for range 5 {
		clk.Advance(maxBackoff)
		if r, _ := call("closed"); r.status == 200 {
			recovered = true
			break
		}
	}
	require.True(t, recovered, "the shared limit comes back by itself")
	before := l.Stats()
	r, _ = call("open")
	assert.Equal(t, 200, r.status)
	after := l.Stats()
	assert.Equal(t, before.FailOpen, after.FailOpen, "decided by Redis again, not by the policy")
	assert.Equal(t, before.SharedRedis+1, after.SharedRedis)
	t.Logf("stats: %+v", after)
}
