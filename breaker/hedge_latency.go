package breaker

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// latencies keeps the most recent times to a usable response and a
// percentile of them, recomputed every few samples.
type latencies struct {
	mu      sync.Mutex
	ring    [latencySamples]time.Duration
	n       int // samples ever added
	at      int // n when cached was computed
	scratch []time.Duration
	cached  atomic.Int64 // the percentile, in ns; 0 until enough samples
}

const (
	latencySamples = 256
	latencyMin     = 32 // samples before the percentile is trusted
	latencyEvery   = 16 // recompute after this many new samples
)

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.ring[l.n%latencySamples] = d
	l.n++
	l.mu.Unlock()
}

// percentile returns the p-th percentile of the recent samples, or false
// when there are too few.
func (l *latencies) percentile(p float64) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n < latencyMin {
		return 0, false
	}
	if c := l.cached.Load(); c > 0 && l.n-l.at < latencyEvery {
		return time.Duration(c), true
	}
	l.at = l.n
	k := min(l.n, latencySamples)
	l.scratch = append(l.scratch[:0], l.ring[:k]...)
	slices.Sort(l.scratch)
	d := l.scratch[min(int(p*float64(k)), k-1)]
	l.cached.Store(max(int64(d), 1))
	return d, true
}
