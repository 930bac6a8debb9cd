package breaker

import "time"

// ringSlots is how many slices a sliding time window is cut into: counts
// leave the window one slice at a time.
const ringSlots = 10

// ring counts two quantities (deposits and withdrawals, calls and failures)
// over a sliding time window of ringSlots slices of slot each. Times are
// offsets from an origin the owner keeps. It is not safe for concurrent use:
// its owner guards it.
type ring struct {
	slot       time.Duration
	epoch      int64 // index of the newest slice, in slot units since the origin
	a, b       [ringSlots]int64
	sumA, sumB int64
}

// advance moves the window to now, expiring the slices that left it, and
// returns the index of the current slice.
func (r *ring) advance(now time.Duration) int {
	e := int64(now / r.slot)
	if e > r.epoch {
		n := min(e-r.epoch, ringSlots)
		for k := int64(1); k <= n; k++ {
			j := (r.epoch + k) % ringSlots
			r.sumA -= r.a[j]
			r.sumB -= r.b[j]
			r.a[j], r.b[j] = 0, 0
		}
		r.epoch = e
	}
	return int(r.epoch % ringSlots)
}

// add adds da and db to slice i.
func (r *ring) add(i int, da, db int64) {
	r.a[i] += da
	r.b[i] += db
	r.sumA += da
	r.sumB += db
}

// reset empties the window.
func (r *ring) reset() {
	r.a, r.b = [ringSlots]int64{}, [ringSlots]int64{}
	r.sumA, r.sumB = 0, 0
}
