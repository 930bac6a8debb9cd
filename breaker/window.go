package breaker

import (
	"sync"
	"time"
)

// window holds the recent results of a closed circuit breaker: the last n
// results (a count window), or the results of the last period (a time
// window, cut into windowSlots slices that leave it one at a time). It is
// safe for concurrent use.
type window struct {
	mu       sync.Mutex
	calls    int // results in the window
	failures int

	// count window: a ring of n results, one bit each
	bits []uint64
	n    int
	next int

	// time window
	slot  time.Duration // 0 for a count window
	epoch int64
	slotC [windowSlots]int
	slotF [windowSlots]int
}

const windowSlots = 10

func newCountWindow(n int) *window {
	return &window{bits: make([]uint64, (n+63)/64), n: n}
}

func newTimeWindow(period time.Duration) *window {
	return &window{slot: max(period/windowSlots, 1)}
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
	i := w.advance(now)
	w.slotC[i]++
	w.calls++
	if failed {
		w.slotF[i]++
		w.failures++
	}
	return w.calls, w.failures
}

// advance expires the slices that left the time window and returns the
// index of the current one. w.mu is held.
func (w *window) advance(now time.Duration) int {
	e := int64(now / w.slot)
	if e > w.epoch {
		n := min(e-w.epoch, windowSlots)
		for k := int64(1); k <= n; k++ {
			j := (w.epoch + k) % windowSlots
			w.calls -= w.slotC[j]
			w.failures -= w.slotF[j]
			w.slotC[j], w.slotF[j] = 0, 0
		}
		w.epoch = e
	}
	return int(w.epoch % windowSlots)
}

// reset empties the window.
func (w *window) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls, w.failures, w.next = 0, 0, 0
	clear(w.bits)
	w.slotC, w.slotF = [windowSlots]int{}, [windowSlots]int{}
}
