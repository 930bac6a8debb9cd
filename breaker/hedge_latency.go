package breaker

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// latencies keeps the most recent times to a usable response and a
// percentile of them, recomputed every few samples. It is safe for
// concurrent use, and lock-free on every call's path: add is an atomic
// increment and a store, and percentile reads the cached value and a flag
// that says it is due for recomputation; only the recomputation, one
// caller at a time (the others keep the cached value), takes a lock. Under
// parallel load a lock taken by every call, to add and to read, cost more
// than the rest of an unhedged attempt (BenchmarkHedge).
type latencies struct {
	// What every call reads (cached, stale) sits on a cache line apart
	// from what every add writes (n, ring); at is read by adds, written
	// only at a recomputation.
	cached atomic.Int64 // the percentile, in ns; 0 until enough samples
	stale  atomic.Bool  // latencyEvery samples came since cached (or latencyMin, before it)
	at     atomic.Int64 // n when cached was computed
	_      [40]byte
	n      atomic.Int64                 // samples ever added
	ring   [latencySamples]atomic.Int64 // ns, at least 1; slot i%latencySamples holds sample i; 0 while not yet written

	mu      sync.Mutex      // one recomputation at a time
	scratch []time.Duration // under mu
}

const (
	latencySamples = 256
	latencyMin     = 32 // samples before the percentile is trusted
	latencyEvery   = 64 // recompute after this many new samples: a quarter of the ring
)

// add records d (as 1 ns when it is not positive, so that an empty slot,
// 0, is told from a sample).
func (l *latencies) add(d time.Duration) {
	i := l.n.Add(1)
	l.ring[(i-1)%latencySamples].Store(max(int64(d), 1))
	if i >= latencyMin && (l.cached.Load() == 0 || i-l.at.Load() >= latencyEvery) && !l.stale.Load() {
		l.stale.Store(true)
	}
}

// percentile returns the p-th percentile of the recent samples, or false
// when there are too few.
func (l *latencies) percentile(p float64) (time.Duration, bool) {
	c := l.cached.Load()
	if !l.stale.Load() {
		return time.Duration(c), c > 0
	}
	if !l.mu.TryLock() {
		if c > 0 { // another caller is recomputing it
			return time.Duration(c), true
		}
		l.mu.Lock() // the first: wait for it
	}
	defer l.mu.Unlock()
	if c := l.cached.Load(); c > 0 && !l.stale.Load() {
		return time.Duration(c), true // recomputed while this one waited
	}
	// Cleared before the samples are read: an add that comes meanwhile,
	// and finds this computation enough behind, sets it again.
	l.stale.Store(false)
	n := l.n.Load()
	l.scratch = l.scratch[:0]
	for i := range int(min(n, latencySamples)) {
		if d := l.ring[i].Load(); d > 0 { // 0: an add between its count and its store
			l.scratch = append(l.scratch, time.Duration(d))
		}
	}
	if len(l.scratch) == 0 {
		return time.Duration(c), c > 0
	}
	slices.Sort(l.scratch)
	k := len(l.scratch)
	d := l.scratch[min(int(p*float64(k)), k-1)]
	l.at.Store(n)
	l.cached.Store(int64(d))
	return d, true
}
