package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTableFindsEveryEntryPastTombstones(t *testing.T) {
	tomb := new(entry[string, string])
	tab := newTable[string, string](16)
	live := map[uint64]*entry[string, string]{}
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 10_000 {
		// Few distinct slots, so that probes cross entries and tombstones.
		h := uint64(r.IntN(24)) << 32
		if r.IntN(3) == 0 {
			tab.del(h, tomb)
			delete(live, h)
		} else {
			e := &entry[string, string]{key: fmt.Sprint("k", h), h: h, v: fmt.Sprint(i)}
			if tab.put(e, tomb) {
				next := newTable[string, string](16)
				for _, e := range live {
					next.put(e, tomb)
				}
				next.put(e, tomb)
				tab = next
			}
			live[h] = e
		}
		for h, e := range live {
			require.Same(t, e, tab.get(h, e.key, tomb), "step %d", i)
		}
	}
}

func TestTableEntryOfAnotherKeyWithTheSameHashIsNoHit(t *testing.T) {
	tomb := new(entry[string, string])
	tab := newTable[string, string](4)
	a := &entry[string, string]{key: "a", h: 7}
	b := &entry[string, string]{key: "b", h: 7}
	tab.put(a, tomb)
	assert.Same(t, a, tab.get(7, "a", tomb))
	assert.Nil(t, tab.get(7, "b", tomb))
	tab.put(b, tomb) // one slot per hash, as in the LRU: b replaces a
	assert.Nil(t, tab.get(7, "a", tomb))
	assert.Same(t, b, tab.get(7, "b", tomb))
}

// Hits read the table with no lock while loads store, evictions and
// invalidations remove, and rebuilds replace it: every value a Get returns
// is its key's.
func TestHitsRaceStoresEvictionsAndInvalidations(t *testing.T) {
	st := newTestStore()
	for i := range 300 {
		k := fmt.Sprint("k", i)
		st.put(k, "v-"+k)
	}
	c := newTestCache(t, st, Config{Shards: 2, Rules: Rules{Size: 64}})
	ctx := context.Background()
	var wrong atomic.Int64
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for range 5000 {
				k := fmt.Sprint("k", r.IntN(300))
				if r.IntN(10) == 0 {
					assert.NoError(t, c.Invalidate(ctx, k))
					continue
				}
				v, err := c.Get(ctx, k)
				if err != nil || v != "v-"+k {
					wrong.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, wrong.Load())
	assert.LessOrEqual(t, c.Stats().Entries, 64)
}
