package cache

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/gatewaytest"
)

// Stats.Hits counts the Gets answered a fresh value, exactly, and nothing
// else: not the Get that waited for the load, not a Bloom rejection, a
// negative hit or a stale value served while a refresh ran.
func TestStatsCountFreshHitsExactly(t *testing.T) {
	clk := gatewaytest.NewClock(epoch)
	st := newTestStore("a", "1", "b", "2")
	c := newTestCache(t, st, Config{Clock: clk, Rules: Rules{TTL: time.Minute, StaleFor: time.Minute, Jitter: 0.01}})
	ctx := context.Background()
	get := func(key string) {
		t.Helper()
		_, _ = c.Get(ctx, key)
	}
	get("a") // a load
	for range 3 {
		get("a")
	}
	get("b")      // a load
	get("b")      // a hit
	get("absent") // the filter refuses it
	clk.Advance(61 * time.Second)
	get("a") // stale, and a refresh
	waitFor(t, func() bool { return c.Stats().LoadsInFlight == 0 })
	get("a") // the refreshed value: a hit

	s := c.Stats()
	assert.Equal(t, int64(5), s.Hits)
	assert.Equal(t, int64(1), s.StaleHits)
	assert.Equal(t, int64(1), s.Rejected)
	assert.Equal(t, int64(3), s.Loads)
}

// Hits on every shard from several goroutines are all counted: each
// shard's counter is added to atomically.
func TestStatsCountHitsFromManyGoroutines(t *testing.T) {
	keys := make([]string, 256)
	for i := range keys {
		keys[i] = digest(uint64(i))
	}
	st := newTestStore()
	for _, k := range keys {
		st.put(k, "v")
	}
	c := newTestCache(t, st, Config{})
	ctx := context.Background()
	for _, k := range keys {
		_, err := c.Get(ctx, k)
		require.NoError(t, err)
	}
	const goroutines, rounds = 8, 10
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds * len(keys) {
				_, _ = c.Get(ctx, keys[(i+g*31)%len(keys)])
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(goroutines*rounds*len(keys)), c.Stats().Hits)
}
