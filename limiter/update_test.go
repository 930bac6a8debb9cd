package limiter

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// Rules swapped under load (run with -race) lose no count: 8 goroutines
// call while Update swaps between two versions of the rule (another model
// list, another concurrency rule beside it), and exactly the bucket's 100
// are admitted. Raising the limit afterwards carries over what is used.
func TestUpdateUnderLoadKeepsCounts(t *testing.T) {
	clk := gatewaytest.NewClock(t0) // never moves: nothing refills
	v1 := []Rule{{Name: "rpm", Unit: Requests, Limit: 100, Per: Minute}}
	v2 := []Rule{{Name: "rpm", Unit: Requests, Limit: 100, Per: Minute, Models: []string{"*"}},
		{Name: "conc", Unit: Concurrent, Limit: 1000}}
	l := newTestLimiter(t, clk, v1...)
	c := client(l, sim(gatewaytest.SimConfig{}))
	var admitted atomic.Int64
	stop := make(chan struct{})
	var swaps sync.WaitGroup
	swaps.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			rules := v1
			if i%2 == 1 {
				rules = v2
			}
			if err := l.Update(rules); err != nil {
				t.Error(err)
				return
			}
		}
	})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 40 {
				if do(t, c, gateway.Caller{}, callBody("m", false, 0)).status == 200 {
					admitted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	swaps.Wait()
	assert.Equal(t, int64(100), admitted.Load())

	require.NoError(t, l.Update([]Rule{{Name: "rpm", Unit: Requests, Limit: 150, Per: Minute}}))
	more := 0
	for range 100 {
		if do(t, c, gateway.Caller{}, callBody("m", false, 0)).status == 200 {
			more++
		}
	}
	// At 150/min the bucket holds 150; 100 are used (at the new rate, 100
	// units of 400ms), so 50 are left.
	assert.Equal(t, 50, more)
	assert.Error(t, l.Update([]Rule{{Name: "rpm", Unit: Requests, Per: Minute}}), "an invalid update is refused")
	assert.Equal(t, int64(150), l.Rules()[0].Limit, "and changes nothing")
}

// A rule updated to another kind (local to shared, a bucket to a quota)
// starts afresh instead of reading state of the wrong kind.
func TestUpdateToAnotherKindStartsAfresh(t *testing.T) {
	rdb, prefix := redisForTest(t)
	clk := gatewaytest.NewClock(t0)
	l, err := New(Config{Clock: clk, Redis: rdb, Prefix: prefix, Rules: []Rule{{Name: "r", Unit: Requests, Limit: 1, Per: Day, Shared: true}}})
	require.NoError(t, err)
	defer l.Close()
	c := client(l, sim(gatewaytest.SimConfig{}))
	for _, r := range []Rule{
		{Name: "r", Unit: Requests, Limit: 1, Per: Day},
		{Name: "r", Unit: Requests, Limit: 1, Per: Minute},
		{Name: "r", Unit: Tokens, Limit: 100000, Per: Minute},
		{Name: "r", Unit: Concurrent, Limit: 1},
		{Name: "r", Unit: Requests, Limit: 1, Per: Minute, Shared: true},
	} {
		require.NoError(t, l.Update([]Rule{r}))
		assert.Equal(t, 200, do(t, c, gateway.Caller{}, callBody("m", false, 0)).status, "%+v", r)
	}
}
