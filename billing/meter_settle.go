package billing

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// MaxPendingSettles bounds the settlements a Meter keeps to retry while its
// BudgetStore fails; past it a failed settlement is counted in
// MeterStats.SettlesLost and its spend does not reach the budget (the
// usage record, with its cost, still reaches the sinks).
const MaxPendingSettles = 10_000

// The backoff between retries of pending settlements.
const (
	settleRetryBase = 100 * time.Millisecond
	settleRetryMax  = 10 * time.Second
)

// pendingSettle is a settlement the store failed.
type pendingSettle struct {
	id      string
	buckets []Bucket
	actual  int64
}

// settleQueue keeps the failed settlements, in the order they failed. No
// goroutine retries them: the end of a later call does, once the backoff
// has passed, and so does SettlePending.
type settleQueue struct {
	n       atomic.Int64 // pending, including those being retried: read on every call's end
	flush   sync.Mutex   // one retrier at a time
	mu      sync.Mutex   // guards the fields below
	items   []pendingSettle
	next    time.Time // no retry before (but by SettlePending)
	backoff time.Duration
}

// settle settles a call's hold within timeout, keeping it to retry if the
// store fails.
func (m *Meter) settle(timeout time.Duration, id string, buckets []Bucket, actual int64) {
	if m.trySettle(context.Background(), timeout, id, buckets, actual) == nil {
		return
	}
	m.stats.settleErrors.Add(1)
	q := &m.settles
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n.Load() >= MaxPendingSettles {
		m.stats.settlesLost.Add(1)
		return
	}
	q.items = append(q.items, pendingSettle{id: id, buckets: buckets, actual: actual})
	q.n.Add(1)
	if q.backoff == 0 {
		q.backoff = settleRetryBase
		q.next = m.clock.Now().Add(q.backoff)
	}
}

func (m *Meter) trySettle(ctx context.Context, timeout time.Duration, id string, buckets []Bucket, actual int64) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return m.store.Settle(ctx, id, buckets, actual, m.clock.Now())
}

// retrySettles retries the pending settlements in order, stopping at the
// first the store fails (it is still down). Unless now, it does nothing
// before the backoff has passed or while another goroutine retries.
func (m *Meter) retrySettles(ctx context.Context, now bool) {
	q := &m.settles
	if q.n.Load() == 0 {
		return
	}
	if now {
		q.flush.Lock()
	} else if !q.flush.TryLock() {
		return
	}
	defer q.flush.Unlock()
	q.mu.Lock()
	if !now && m.clock.Now().Before(q.next) {
		q.mu.Unlock()
		return
	}
	items := q.items
	q.items = nil
	q.mu.Unlock()

	done := 0
	var err error
	timeout := m.cur.Load().budget.SettleTimeout // a retry is bounded by the settings in force
	for ; done < len(items); done++ {
		it := &items[done]
		if err = m.trySettle(ctx, timeout, it.id, it.buckets, it.actual); err != nil {
			m.stats.settleErrors.Add(1)
			break
		}
		m.stats.settlesRetried.Add(1)
	}

	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(items[done:len(items):len(items)], q.items...)
	q.n.Add(-int64(done))
	switch {
	case len(q.items) == 0:
		q.backoff = 0
	case err != nil:
		q.backoff = min(2*max(q.backoff, settleRetryBase/2), settleRetryMax)
		q.next = m.clock.Now().Add(q.backoff)
	}
}

// SettlePending retries at once every settlement the BudgetStore failed
// (a call's end retries them too, with a backoff while the store stays
// down). It returns nil when none is left, else an error saying how many
// are. Call it before the process exits: pending settlements live in its
// memory only, and a hold not settled expires after BudgetConfig.HoldTTL
// without its spend.
func (m *Meter) SettlePending(ctx context.Context) error {
	m.retrySettles(ctx, true)
	if n := m.settles.n.Load(); n > 0 {
		return fmt.Errorf("billing: %d budget settlements still pending (the budget store fails)", n)
	}
	return nil
}
