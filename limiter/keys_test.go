package limiter

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// The keys a rule tracks are bounded: past MaxKeys, keys at rest are
// forgotten to make room, and when none is, a new key is refused (counted),
// never let through unlimited.
func TestKeysAreBoundedWithoutLettingAnyoneThrough(t *testing.T) {
	clk := gatewaytest.NewClock(t0)
	l, err := New(Config{Clock: clk, MaxKeys: 3, Rules: []Rule{
		{Name: "rpm", Dimensions: []Dimension{KeyID}, Unit: Requests, Limit: 1, Per: Minute}}})
	require.NoError(t, err)
	defer l.Close()
	c := client(l, sim(gatewaytest.SimConfig{}))
	for _, k := range []string{"a", "b", "c"} {
		require.Equal(t, 200, do(t, c, gateway.Caller{KeyID: k}, callBody("m", false, 0)).status)
	}
	assert.Equal(t, 429, do(t, c, gateway.Caller{KeyID: "d"}, callBody("m", false, 0)).status, "no key is at rest")
	assert.Equal(t, uint64(1), l.Stats().KeysFull)
	assert.Equal(t, 429, do(t, c, gateway.Caller{KeyID: "a"}, callBody("m", false, 0)).status, "a's own bucket still counts")

	clk.Advance(time.Minute) // every bucket full again: at rest
	assert.Equal(t, 200, do(t, c, gateway.Caller{KeyID: "d"}, callBody("m", false, 0)).status)
	assert.Equal(t, 200, do(t, c, gateway.Caller{KeyID: "e"}, callBody("m", false, 0)).status)
	assert.Equal(t, 429, do(t, c, gateway.Caller{KeyID: "d"}, callBody("m", false, 0)).status)
}

// The key index reads a snapshot without a lock while keys are added (run
// with -race): every key added is found, by every reader, exactly once.
func TestKeyIndexUnderConcurrentAdds(t *testing.T) {
	st := newRuleState(0, 1<<20)
	made := make([]int, 2000)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := key{strconv.Itoa((i + g*250) % 2000)}
				e := st.get(k, 1, 0, func() *entry {
					mu.Lock()
					made[(i+g*250)%2000]++
					mu.Unlock()
					return &entry{g: &gauge{}}
				})
				require.NotNil(t, e)
				require.Same(t, e, st.lookup(k, 1))
			}
		})
	}
	wg.Wait()
	for i, n := range made {
		require.Equal(t, 1, n, "key %d made once", i)
	}
	got := 0
	st.each(func(*entry) { got++ })
	assert.Equal(t, 2000, got)
}
