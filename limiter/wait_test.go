package limiter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
)

// With MaxWait a call refused by a bucket that refills within it waits (on
// the Limiter's clock) and is admitted; one that would wait longer is
// refused at once.
func TestMaxWaitWaitsForABucketWithinItsBound(t *testing.T) {
	clk := gatewaytest.NewClock(t0)
	l, err := New(Config{Clock: clk, MaxWait: 2 * time.Second, Rules: []Rule{
		{Name: "rps", Unit: Requests, Limit: 60, Per: Minute, Burst: 1, Models: []string{"fast"}},
		{Name: "slow", Unit: Requests, Limit: 1, Per: Minute, Models: []string{"slow"}},
	}})
	require.NoError(t, err)
	defer l.Close()
	c := client(l, sim(gatewaytest.SimConfig{}))
	require.Equal(t, 200, do(t, c, gateway.Caller{}, callBody("fast", false, 0)).status)
	done := make(chan int, 1)
	go func() { done <- do(t, c, gateway.Caller{}, callBody("fast", false, 0)).status }()
	require.True(t, clk.WaitForTimers(1, 5*time.Second), "the second call waits for the bucket")
	clk.Advance(time.Second)
	assert.Equal(t, 200, <-done)
	assert.Equal(t, uint64(1), l.Stats().Waited)

	require.Equal(t, 200, do(t, c, gateway.Caller{}, callBody("slow", false, 0)).status)
	r := do(t, c, gateway.Caller{}, callBody("slow", false, 0))
	assert.Equal(t, 429, r.status, "a minute's wait is over MaxWait: refused at once")
	assert.Equal(t, "60", r.header.Get("Retry-After"))
}

// A provider account's token limit (Target) holds the call's estimate while
// it runs, settles to the usage of the attempt served, and gives back at
// once what a failed attempt held.
func TestTargetTokenLimitSettlesToTheServedAttempt(t *testing.T) {
	clk := gatewaytest.NewClock(t0)
	l := newTestLimiter(t, clk, Rule{Name: "account-tpm", Dimensions: []Dimension{Target}, Unit: Tokens, Limit: 100000, Per: Minute})
	down := gatewaytest.MustNewSim("down", gatewaytest.SimConfig{Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{500}}})
	up := gatewaytest.MustNewSim("up", gatewaytest.SimConfig{CompletionTokens: 4})
	rtr, err := router.New("llm", []router.Target{
		{Provider: down, Weight: 1, Middlewares: []gateway.Middleware{l.Target("down")}},
		{Provider: up, Weight: 1, Tier: 1, Middlewares: []gateway.Middleware{l.Target("up")}},
	}, router.Config{Clock: clk})
	require.NoError(t, err)
	var u usages
	c := gateway.NewClient(rtr, gateway.WithClock(clk), gateway.WithObserver(u.observe))
	require.Equal(t, 200, do(t, c, gateway.Caller{}, callBody("m", true, 100)).status)
	assert.Equal(t, int64(0), bucketUsed(t, l, "account-tpm", key{"down"}), "the failed attempt held nothing once it failed")
	assert.Equal(t, u.sum(), bucketUsed(t, l, "account-tpm", key{"up"}), "the served attempt settled to the call's usage")
	assert.Positive(t, u.sum())
}
