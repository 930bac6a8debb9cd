package breaker

import (
	"sync"
	"time"
)

// window holds the recent results of a closed circuit breaker: the last n
// results (a count window), or the results of the last period (a time
// window, a ring). It is safe for concurrent use.
type window struct {
	mu       sync.Mutex
	calls    int // results in the window
	failures int

	// count window: a ring of n results, one bit each
	bits []uint64
	n    int
	next int

	// time window: calls in ring.a, failures in ring.b
	slot time.Duration // 0 for a count window
	ring ring
}

func newCountWindow(n int) *window {
	return &window{bits: make([]uint64, (n+63)/64), n: n}
}

func newTimeWindow(period time.Duration) *window {
	slot := max(period/ringSlots, 1)
	return &window{slot: slot, ring: ring{slot: slot}}
}

// record adds one result, at offset now from the breaker's origin, and
// returns the window's calls and failures after it.
func (w *window) record(failed bool, now time.Duration) (calls, failures int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.slot == 0 {
		word, bit := w.next/64, uint64(1)<<(w.next%64)
		if w.calls == w.n {
			if w.bits[word]&bit != 0 {
				w.failures--
			}
		} else {
			w.calls++
		}
		if failed {
			w.bits[word] |= bit
			w.failures++
		} else {
			w.bits[word] &^= bit
		}
		if w.next++; w.next == w.n {
			w.next = 0
		}
		return w.calls, w.failures
	}
	var f int64
	if failed {
		f = 1
	}
	w.ring.add(w.ring.advance(now), 1, f)
	w.calls, w.failures = int(w.ring.sumA), int(w.ring.sumB)
	return w.calls, w.failures
}

// reset empties the window.
func (w *window) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls, w.failures, w.next = 0, 0, 0
	clear(w.bits)
	w.ring.reset()
}
