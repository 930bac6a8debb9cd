package cache

import (
	"sync"
	"sync/atomic"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// entry is a cached value and the times (Unix nanoseconds on the cache's
// clock) until which it is fresh, and then stale but still served. Its
// key, value and times never change once it is stored.
type entry[K ~string, V any] struct {
	key          K
	v            V
	h            uint64 // the key's hash
	fresh, stale int64
	refreshing   bool // a refresh was started for this entry; guarded by the shard's lock
	// touched says a hit found it since the LRU last looked at it: its
	// second chance before eviction (see evictLocked). A hit writes it only
	// when it is false.
	touched atomic.Bool
}

// flight is one load of one key, shared by every Get that misses while it
// runs. v and err are written before done is closed.
type flight[V any] struct {
	done chan struct{}
	v    V
	err  error
}

// shard is a part of the cache: its values in an LRU (golang-lru's
// simplelru, keyed by the key's 64-bit hash and checked against the
// entry's key) and, for hits, in a table that is read without a lock; an
// LRU of not-found answers (their expiry); and the loads in flight. A load
// that is no longer in flights (Invalidate or Added removed it) stores
// nothing when it ends.
//
// A fresh hit reads the table and writes only its shard's hit count (on a
// line of its own) and, once per eviction round, its entry's touched flag:
// hits on different shards do not contend; everything else holds mu. The
// LRU's order is that of stores, and a hit's recency is its touched flag:
// when the LRU must evict, a touched entry at its tail is moved to the
// front, untouched, and the next is looked at (second chance, as in
// CLOCK), so an entry in use is never evicted while one not hit since the
// last round is.
type shard[K ~string, V any] struct {
	mu      sync.Mutex
	tab     atomic.Pointer[table[K, V]]
	tomb    *entry[K, V] // the table's tombstone
	lru     *simplelru.LRU[uint64, *entry[K, V]]
	size    int
	neg     *simplelru.LRU[K, int64]
	flights map[K]*flight[V]
	stats   Stats        // guarded by mu, but for Rejected and Hits
	reject  atomic.Int64 // keys the filter refused, counted without the lock
	// hits counts the fresh hits, without the lock, on a cache line of its
	// own: a hit's add must not take the line of tab (which every hit on
	// the shard reads) or of the next shard's lock from other cores. Hits
	// on one shard from several cores still share it: that is their cost.
	_    [64]byte
	hits atomic.Int64
	// Keeps hits, and two shards' locks, off one cache line.
	_ [64]byte
}

func (s *shard[K, V]) init(size, negSize int) {
	var err error
	s.size, s.tomb = size, new(entry[K, V])
	s.tab.Store(newTable[K, V](size))
	// Its own capacity is never reached: storeLocked evicts first, giving
	// touched entries their second chance.
	if s.lru, err = simplelru.NewLRU(size+1, s.evicted); err != nil {
		panic(err) // sizes are at least 1 by construction
	}
	if s.neg, err = simplelru.NewLRU[K, int64](negSize, nil); err != nil {
		panic(err)
	}
	s.flights = make(map[K]*flight[V])
}

// evicted follows the LRU: whatever leaves it leaves the table.
func (s *shard[K, V]) evicted(h uint64, _ *entry[K, V]) { s.tab.Load().del(h, s.tomb) }

// get returns key's entry, or nil. It takes no lock.
func (s *shard[K, V]) get(key K, h uint64) *entry[K, V] { return s.tab.Load().get(h, key, s.tomb) }

// storeLocked stores e, evicting first when the shard is full. Called with
// mu held.
func (s *shard[K, V]) storeLocked(e *entry[K, V]) {
	if _, ok := s.lru.Peek(e.h); !ok {
		for s.lru.Len() >= s.size {
			s.evictLocked()
		}
	}
	s.lru.Add(e.h, e)
	if s.tab.Load().put(e, s.tomb) {
		s.rebuildTableLocked()
	}
}

// evictLocked removes the least recently stored entry not touched since
// the last round, moving the touched ones it passes to the front. It looks
// at each entry at most once.
func (s *shard[K, V]) evictLocked() {
	for range s.lru.Len() {
		h, e, ok := s.lru.GetOldest()
		if !ok || !e.touched.Load() {
			break
		}
		e.touched.Store(false)
		s.lru.Get(h) // to the front
	}
	s.lru.RemoveOldest()
}

// rebuildTableLocked replaces the table with one that holds the LRU's
// entries and no tombstones.
func (s *shard[K, V]) rebuildTableLocked() {
	t := newTable[K, V](s.size)
	for _, e := range s.lru.Values() {
		t.put(e, s.tomb)
	}
	s.tab.Store(t)
}

// resizeLocked bounds the shard to size values, evicting the least
// recently stored.
func (s *shard[K, V]) resizeLocked(size int) {
	s.size = size
	s.lru.Resize(size + 1)
	for s.lru.Len() > size {
		s.lru.RemoveOldest()
	}
	s.rebuildTableLocked()
}

// purgeLocked forgets every value and not-found answer.
func (s *shard[K, V]) purgeLocked() {
	s.lru.Purge()
	s.neg.Purge()
	s.rebuildTableLocked()
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

// perShard divides n over shards, rounding up, and is at least 1.
func perShard(n, shards int) int { return max(1, (n+shards-1)/shards) }
