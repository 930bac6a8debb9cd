package cache

import (
	"sync"
	"sync/atomic"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// entry is a cached value and the times (Unix nanoseconds on the cache's
// clock) until which it is fresh, and then stale but still served.
type entry[K ~string, V any] struct {
	key          K
	v            V
	fresh, stale int64
	refreshing   bool   // a refresh was started for this entry; guarded by the shard's lock
	promoted     uint64 // the shard's clock when it was last moved to the front
}

// flight is one load of one key, shared by every Get that misses while it
// runs. v and err are written before done is closed.
type flight[V any] struct {
	done chan struct{}
	v    V
	err  error
}

// shard is one lock's worth of the cache: an LRU of values (keyed by the
// key's 64-bit hash, which a hit has computed already to find its shard,
// and checked against the entry's key, so that a hit hashes the key once),
// an LRU of
// not-found answers (their expiry), and the loads in flight. A load that
// is no longer in flights (Invalidate or Added removed it) stores nothing
// when it ends.
type shard[K ~string, V any] struct {
	mu      sync.Mutex
	lru     *simplelru.LRU[uint64, *entry[K, V]]
	neg     *simplelru.LRU[K, int64]
	flights map[K]*flight[V]
	// ops counts the shard's hits and stores. A hit moves its entry to the
	// front of the LRU only when promoteEvery (half the shard's size) ops
	// have passed since it was last moved: an entry hit at least once
	// every promoteEvery ops is never more than that from the front, so it
	// is never evicted, and while the keys in use fit in half the cache,
	// most hits skip the list's writes. One hit less often than every
	// size ops is evicted as LRU would.
	ops          uint64
	promoteEvery uint64
	stats        Stats        // guarded by mu, but for Rejected
	reject       atomic.Int64 // keys the filter refused, counted without the lock
	// Keeps two shards' locks off one cache line, so that cores working
	// on different shards do not contend.
	_ [64]byte
}

func (s *shard[K, V]) init(size, negSize int) {
	s.promoteEvery = promoteEvery(size)
	var err error
	if s.lru, err = simplelru.NewLRU[uint64, *entry[K, V]](size, nil); err != nil {
		panic(err) // sizes are at least 1 by construction
	}
	if s.neg, err = simplelru.NewLRU[K, int64](negSize, nil); err != nil {
		panic(err)
	}
	s.flights = make(map[K]*flight[V])
}

// forgetLocked removes key's value and not-found answer, and detaches its
// load in flight, so that the load's result is not stored. Called with mu
// held.
func (s *shard[K, V]) forgetLocked(key K, h uint64) {
	if e, ok := s.lru.Peek(h); ok && e.key == key {
		s.lru.Remove(h)
	}
	s.neg.Remove(key)
	delete(s.flights, key)
}

// lookup returns key's entry, moving it to the front of the LRU when it
// is due (see ops). Called with mu held.
func (s *shard[K, V]) lookup(key K, h uint64) (*entry[K, V], bool) {
	e, ok := s.lru.Peek(h)
	if !ok || e.key != key {
		return nil, false
	}
	s.ops++
	if s.ops-e.promoted >= s.promoteEvery {
		s.lru.Get(h)
		e.promoted = s.ops
	}
	return e, true
}

// store puts e at the front of the LRU. Called with mu held.
func (s *shard[K, V]) store(h uint64, e *entry[K, V]) {
	s.ops++
	e.promoted = s.ops
	s.lru.Add(h, e)
}

// promoteEvery is half a shard's size: how far an entry in use may drift
// from the front between two moves.
func promoteEvery(size int) uint64 { return uint64(max(1, size/2)) }

// perShard divides n over shards, rounding up, and is at least 1.
func perShard(n, shards int) int { return max(1, (n+shards-1)/shards) }
