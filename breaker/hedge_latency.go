package breaker

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// latencies keeps the most recent times to a usable response and a
// percentile of them, recomputed every few samples. It is safe for
// concurrent use, and lock-free on every call's path: add is one atomic
// increment and one store, and percentile reads the cached value; only the
// recomputation, one caller at a time (the others keep the cached value),
// takes a lock. Under parallel load a lock taken by every call, to add and
// to read, cost more than the rest of an unhedged attempt
// (BenchmarkHedge).
type latencies struct {
	// cached and at, read by every call, sit on a cache line of their own,
	// apart from n and ring, which every add writes.
	cached atomic.Int64 // the percentile, in ns; 0 until enough samples
	at     atomic.Int64 // n when cached was computed
	_      [48]byte
	n      atomic.Int64                 // samples ever added
	ring   [latencySamples]atomic.Int64 // ns; slot i%latencySamples holds sample i

	mu      sync.Mutex      // one recomputation at a time
	scratch []time.Duration // under mu
}

const (
	latencySamples = 256
	latencyMin     = 32 // samples before the percentile is trusted
	latencyEvery   = 64 // recompute after this many new samples: a quarter of the ring
)

// add records d. A percentile computed while an add is between its
// increment and its store may read that slot's previous sample.
func (l *latencies) add(d time.Duration) {
	i := l.n.Add(1) - 1
	l.ring[i%latencySamples].Store(int64(d))
}

// percentile returns the p-th percentile of the recent samples, or false
// when there are too few.
func (l *latencies) percentile(p float64) (time.Duration, bool) {
	n := l.n.Load()
	if n < latencyMin {
		return 0, false
	}
	c := l.cached.Load()
	if c > 0 && n-l.at.Load() < latencyEvery {
		return time.Duration(c), true
	}
	if !l.mu.TryLock() {
		if c > 0 { // another caller is recomputing it
			return time.Duration(c), true
		}
		l.mu.Lock() // the first: wait for it
	}
	defer l.mu.Unlock()
	n = l.n.Load()
	if c := l.cached.Load(); c > 0 && n-l.at.Load() < latencyEvery {
		return time.Duration(c), true // recomputed while this one waited
	}
	k := int(min(n, latencySamples))
	l.scratch = l.scratch[:0]
	for i := range k {
		l.scratch = append(l.scratch, time.Duration(l.ring[i].Load()))
	}
	slices.Sort(l.scratch)
	d := l.scratch[min(int(p*float64(k)), k-1)]
	l.at.Store(n)
	l.cached.Store(max(int64(d), 1))
	return d, true
}
