package billing

import (
	"context"
	"errors"
	"sync"
	"time"
)

// DefaultMaxLocalBuckets bounds the buckets a LocalBudgets keeps.
const DefaultMaxLocalBuckets = 100_000

// LocalBudgets is a BudgetStore in this process's memory: exact and
// atomic under one mutex, and forgotten when the process exits (a fleet, or
// budgets that must survive a restart, use NewRedisBudgets). It keeps at
// most DefaultMaxLocalBuckets buckets, forgetting those whose period has
// ended first; when every one is still current, a new bucket's Reserve fails
// (ErrBudgetUnavailable) rather than forget spend. Safe for concurrent use.
type LocalBudgets struct {
	mu      sync.Mutex
	buckets map[string]*localBucket
	max     int
}

type localBucket struct {
	spent, held int64
	ends        time.Time
	holds       map[string]localHold
	nextExpiry  time.Time // the earliest expiry among holds; zero if none
}

type localHold struct {
	amount  int64
	expires time.Time
}

var errLocalFull = errors.New("billing: local budget store full")

// NewLocalBudgets returns an empty local store.
func NewLocalBudgets() *LocalBudgets {
	return &LocalBudgets{buckets: map[string]*localBucket{}, max: DefaultMaxLocalBuckets}
}

// Reserve implements BudgetStore.
func (s *LocalBudgets) Reserve(_ context.Context, id string, buckets []Bucket, amount int64, ttl time.Duration, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range buckets {
		b, err := s.bucket(&buckets[i], now)
		if err != nil {
			return -1, err
		}
		b.expire(now)
		if _, dup := b.holds[id]; dup {
			continue // held already: Reserve is idempotent per id
		}
		if b.spent+b.held+amount > buckets[i].Limit {
			return i, nil
		}
	}
	for i := range buckets {
		b := s.buckets[buckets[i].Name]
		if _, dup := b.holds[id]; dup {
			continue
		}
		exp := now.Add(ttl)
		b.held += amount
		b.holds[id] = localHold{amount: amount, expires: exp}
		if b.nextExpiry.IsZero() || exp.Before(b.nextExpiry) {
			b.nextExpiry = exp
		}
	}
	return -1, nil
}

// Settle implements BudgetStore.
func (s *LocalBudgets) Settle(_ context.Context, id string, buckets []Bucket, actual int64, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range buckets {
		b, err := s.bucket(&buckets[i], now)
		if err != nil {
			return err
		}
		if h, ok := b.holds[id]; ok {
			b.held -= h.amount
			delete(b.holds, id)
		}
		b.spent += actual
	}
	return nil
}

// Spent returns a bucket's spend and holds, for tests and reports.
func (s *LocalBudgets) Spent(name string) (spent, held int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.buckets[name]; ok {
		return b.spent, b.held
	}
	return 0, 0
}

// bucket returns the bucket named by bk, creating it, within the bound.
func (s *LocalBudgets) bucket(bk *Bucket, now time.Time) (*localBucket, error) {
	if b, ok := s.buckets[bk.Name]; ok {
		return b, nil
	}
	if len(s.buckets) >= s.max {
		for name, b := range s.buckets {
			if !b.ends.IsZero() && !now.Before(b.ends) && len(b.holds) == 0 {
				delete(s.buckets, name)
			}
		}
		if len(s.buckets) >= s.max {
			return nil, &storeError{ge: ErrBudgetUnavailable, cause: errLocalFull}
		}
	}
	b := &localBucket{ends: bk.Ends, holds: map[string]localHold{}}
	s.buckets[bk.Name] = b
	return b, nil
}

// expire drops the holds that have expired.
func (b *localBucket) expire(now time.Time) {
	if b.nextExpiry.IsZero() || now.Before(b.nextExpiry) {
		return
	}
	b.nextExpiry = time.Time{}
	for id, h := range b.holds {
		if !now.Before(h.expires) {
			b.held -= h.amount
			delete(b.holds, id)
			continue
		}
		if b.nextExpiry.IsZero() || h.expires.Before(b.nextExpiry) {
			b.nextExpiry = h.expires
		}
	}
}

// Balances implements BudgetReader, exactly: the holds expired by now are
// dropped first, as Reserve drops them.
func (s *LocalBudgets) Balances(_ context.Context, buckets []Bucket, now time.Time) ([]Balance, error) {
	out := make([]Balance, len(buckets))
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range buckets {
		if b, ok := s.buckets[buckets[i].Name]; ok {
			b.expire(now)
			out[i] = Balance{Spent: b.spent, Held: b.held}
		}
	}
	return out, nil
}
