package limiter

import (
	"sync/atomic"
	"time"
)

// bucket is a token bucket kept as one word, the GCRA way: tat is the
// theoretical arrival time (in nanoseconds of the Limiter's time base) at
// which the bucket would be full again. It admits what golang.org/x/time/rate
// admits for the same rate and burst (TestBucketAgreesWithRateLimiter), and
// adds what rate.Limiter lacks here: taking n units without allocating a
// Reservation, giving units back (a later rule refused the call, or a token
// reservation settled below its estimate), and one compare-and-swap with no
// lock on the path of a decision.
//
// A bucket is safe for concurrent use.
type bucket struct {
	p   atomic.Pointer[bucketParams]
	tat atomic.Int64
}

// bucketParams is a bucket's rate and capacity. It is immutable; a change
// (Update, a caller's override) swaps it.
type bucketParams struct {
	limit, burst int64
	interval     int64 // nanoseconds per unit, rounded up: never faster than the rate
	tolerance    int64 // burst × interval: how far tat may run ahead of now
}

func newBucketParams(limit, burst int64, per time.Duration) *bucketParams {
	iv := (int64(per) + limit - 1) / limit
	if iv < 1 {
		iv = 1
	}
	return &bucketParams{limit: limit, burst: burst, interval: iv, tolerance: burst * iv}
}

func newBucket(p *bucketParams) *bucket {
	b := &bucket{}
	b.p.Store(p)
	return b
}

// never is the wait reported for a take that no wait can satisfy: more
// units than the bucket holds, once the reserve is left.
const never = -1

// take takes n units at now, leaving reserve units for more important
// groups. It reports whether it did, and else how long until it could
// (never when it cannot); and the units left and the time until the bucket
// is full again, for rate-limit headers.
func (b *bucket) take(now, n, reserve int64) (ok bool, wait, remaining, reset int64) {
	p := b.p.Load()
	allowed := p.tolerance - reserve*p.interval
	for {
		tat := b.tat.Load()
		base := max(tat, now)
		next := base + n*p.interval
		if next-now > allowed {
			if n > p.burst-reserve {
				return false, never, (p.tolerance - (base - now)) / p.interval, base - now
			}
			return false, next - now - allowed, (p.tolerance - (base - now)) / p.interval, base - now
		}
		if b.tat.CompareAndSwap(tat, next) {
			return true, 0, (p.tolerance - (next - now)) / p.interval, next - now
		}
	}
}

// give returns n units taken earlier.
func (b *bucket) give(n int64) {
	if n > 0 {
		b.tat.Add(-n * b.p.Load().interval)
	}
}

// force takes n units whatever is left: the usage of a call that settled
// above its reservation. The bucket may go into debt, which later calls wait
// out.
func (b *bucket) force(now, n int64) {
	if n <= 0 {
		return
	}
	p := b.p.Load()
	for {
		tat := b.tat.Load()
		if b.tat.CompareAndSwap(tat, max(tat, now)+n*p.interval) {
			return
		}
	}
}

// setParams changes the bucket's rate or capacity keeping what is used of
// it: the units taken and not yet refilled are carried over at the new
// rate, so an Update loses no count.
func (b *bucket) setParams(now int64, p *bucketParams) {
	old := b.p.Swap(p)
	if old == nil || old.interval == p.interval {
		return
	}
	for {
		tat := b.tat.Load()
		used := max(tat-now, 0) / old.interval
		if b.tat.CompareAndSwap(tat, now+used*p.interval) {
			return
		}
	}
}

// atRest reports whether the bucket is full: forgetting it changes nothing.
func (b *bucket) atRest(now int64) bool { return b.tat.Load() <= now }
