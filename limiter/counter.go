package limiter

import (
	"sync"
	"sync/atomic"
	"time"
)

// gauge counts calls in flight against a limit. It is safe for concurrent
// use.
type gauge struct {
	n     atomic.Int64
	limit atomic.Int64
}

// take takes a place, leaving reserve places for more important groups.
func (g *gauge) take(reserve int64) (ok bool, remaining int64) {
	lim := g.limit.Load()
	for {
		cur := g.n.Load()
		if cur+1 > lim-reserve {
			return false, max(lim-cur, 0)
		}
		if g.n.CompareAndSwap(cur, cur+1) {
			return true, lim - cur - 1
		}
	}
}

func (g *gauge) atRest() bool { return g.n.Load() == 0 }

// quota counts units used in the current calendar day or month, reset at
// the period's start in the Limiter's time zone. It is safe for concurrent
// use.
type quota struct {
	mu    sync.Mutex
	limit int64
	end   int64 // when the current period ends, in the time base; 0 before the first take
	used  int64
}

// periodEnd returns when the day or month holding t ends, in loc.
func periodEnd(t time.Time, per Period, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	if per == Month {
		return time.Date(y, m+1, 1, 0, 0, 0, 0, loc)
	}
	return time.Date(y, m, d+1, 0, 0, 0, 0, loc)
}

// take takes n units, leaving reserve, in the period that holds now (end is
// that period's end). It returns the period's end with the outcome, so a
// settlement reaches the period it was taken from.
func (q *quota) take(now, end, n, reserve, limit int64) (ok bool, remaining int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.roll(now, end)
	q.limit = limit
	if q.used+n > limit-reserve {
		return false, max(limit-q.used, 0)
	}
	q.used += n
	return true, limit - q.used
}

// currentEnd returns the end of the period in force at now, or 0 when it
// has passed (or none began yet).
func (q *quota) currentEnd(now int64) int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	if now >= q.end {
		return 0
	}
	return q.end
}

func (q *quota) roll(now, end int64) {
	if now >= q.end {
		q.used, q.end = 0, end
	}
}

// adjust adds d (negative: gives back) to the period that ends at end, if it
// is still the current one.
func (q *quota) adjust(end, d int64) {
	q.mu.Lock()
	if q.end == end {
		q.used = max(q.used+d, 0)
	}
	q.mu.Unlock()
}

func (q *quota) atRest(now int64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.used == 0 || now >= q.end
}
