package cache

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// digest is a key as auth makes them: the SHA-256 of a secret.
func digest(i uint64) string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], i)
	d := sha256.Sum256(b[:])
	return string(d[:])
}

// Case 30: cache keys are digests, and a flood of distinct invalid ones
// neither reaches the loader nor grows memory.
func TestMillionInvalidKeysNeverReachTheLoaderAndMemoryStaysFlat(t *testing.T) {
	st := newTestStore()
	for i := range uint64(1000) {
		st.put(digest(i), "meta")
	}
	c := newTestCache(t, st, Config{})
	ctx := context.Background()
	for i := range uint64(1000) {
		_, err := c.Get(ctx, digest(i))
		require.NoError(t, err)
	}
	loads := st.loads.Load()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	r := rand.New(rand.NewChaCha8([32]byte{1}))
	var key [32]byte
	const n = 1_000_000
	for range n {
		binary.LittleEndian.PutUint64(key[0:], r.Uint64())
		binary.LittleEndian.PutUint64(key[8:], r.Uint64())
		binary.LittleEndian.PutUint64(key[16:], r.Uint64())
		binary.LittleEndian.PutUint64(key[24:], r.Uint64())
		if _, err := c.Get(ctx, string(key[:])); err != ErrNotFound {
			t.Fatalf("invalid key: %v", err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)

	assert.Equal(t, loads, st.loads.Load(), "no invalid key reached the loader")
	s := c.Stats()
	assert.EqualValues(t, n, s.Rejected)
	assert.Zero(t, s.NegEntries, "a key the filter refuses takes no room")
	assert.Equal(t, 1000, s.Entries)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	assert.Less(t, growth, int64(1<<20), "heap grew %d bytes over %d invalid keys", growth, n)
}

// Case 29: the filter never rejects a key that exists, while keys are added
// one by one (folding and growing the filter) and rebuilt from the store
// concurrently.
func TestBloomNeverRejectsAnExistingKeyWhileKeysAreAddedConcurrently(t *testing.T) {
	st := newTestStore()
	for i := range uint64(100) {
		st.put(digest(i), "v")
	}
	c := newTestCache(t, st, Config{ExpectedKeys: 128})
	ctx := context.Background()

	const writers, each = 4, 1500
	added := make([]string, writers*each)
	var published atomic.Int64 // added[:published] have had Added return
	var pubMu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				k := digest(uint64(1_000_000 + w*each + i))
				st.put(k, "v")
				assert.NoError(t, c.Added(ctx, k))
				pubMu.Lock()
				added[published.Load()] = k
				published.Add(1)
				pubMu.Unlock()
			}
		}()
	}
	var rebuilds atomic.Int64
	var bg sync.WaitGroup
	bg.Add(1)
	go func() { // rebuilds, racing the adds
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			assert.NoError(t, c.rebuild(ctx))
			rebuilds.Add(1)
		}
	}()
	var misses atomic.Int64
	for range 2 {
		bg.Add(1)
		go func() {
			defer bg.Done()
			r := rand.New(rand.NewPCG(1, 2))
			for {
				select {
				case <-stop:
					return
				default:
				}
				pubMu.Lock()
				n := published.Load()
				var k string
				if n > 0 {
					k = added[r.Int64N(n)]
				}
				pubMu.Unlock()
				if k == "" {
					continue
				}
				if !c.filter.mayContain(k) {
					misses.Add(1)
				}
				if i := r.Uint64N(100); !c.filter.mayContain(digest(i)) {
					misses.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	bg.Wait()
	assert.Zero(t, misses.Load(), "the filter rejected an existing key")
	for _, k := range added {
		require.True(t, c.filter.mayContain(k))
		_, err := c.Get(ctx, k)
		require.NoError(t, err)
	}
	assert.Positive(t, rebuilds.Load())
	t.Logf("%d rebuilds, %d filters", rebuilds.Load(), len(c.filter.cur.Load().filters))
}

func TestBloomGrowsPastItsSizeWithoutRejecting(t *testing.T) {
	k := newKeyIndex(16, 1e-6)
	for i := range uint64(5000) {
		k.add(digest(i))
	}
	for i := range uint64(5000) {
		require.True(t, k.mayContain(digest(i)))
	}
	assert.Greater(t, len(k.cur.Load().filters), 1)
	absent := 0
	for i := range uint64(10000) {
		if !k.mayContain(digest(1e9 + i)) {
			absent++
		}
	}
	assert.Greater(t, absent, 9900, "absent keys are still refused")
}

func TestBloomNegativeDoesNotAllocate(t *testing.T) {
	k := newKeyIndex(1000, 1e-6)
	k.add("present")
	key := digest(42)
	assert.Zero(t, testing.AllocsPerRun(100, func() { k.mayContain(key) }))
}
