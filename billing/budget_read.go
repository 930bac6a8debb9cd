package billing

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Balance is what a budget bucket holds: the spend settled into it and the
// holds of the calls in flight, in nano-dollars.
type Balance struct {
	Spent, Held int64
}

// A BudgetReader is a BudgetStore that can say what its buckets hold, for
// reports and metrics (Meter.TenantBudgets); LocalBudgets and RedisBudgets
// are. Balances returns the balance of each bucket, in order: zero for a
// bucket nothing was reserved in, holds expired by now not counted. It
// changes no spend, creates no bucket, and is one round trip for a remote
// store. Implementations must be safe for concurrent use.
type BudgetReader interface {
	Balances(ctx context.Context, buckets []Bucket, now time.Time) ([]Balance, error)
}

// TenantBudget is one tenant's budget (BudgetConfig.Tenants) in its
// current period, in nano-dollars.
type TenantBudget struct {
	Tenant string
	Limit  int64
	Spent  int64 // settled in the current period
	Held   int64 // held by the calls in flight
}

// Remaining is what the tenant's calls may still hold and spend in the
// period: Limit less Spent and Held. It is negative when spend overran the
// limit (a call that used more than it held, or the Expected policy).
func (b TenantBudget) Remaining() int64 { return b.Limit - b.Spent - b.Held }

// TenantBudgets returns the budgets of the tenants the Meter's settings
// name (BudgetConfig.Tenants, as the last Update left them), sorted by
// tenant, each with what its current period's bucket holds, read from the
// store in one Balances call bounded by ctx. When the read fails it returns
// the budgets with their limits only, and the error: one wrapping
// errors.ErrUnsupported when the store is not a BudgetReader, else the
// store's. It allocates, and reads the store: it is for a scrape or a
// report, not for a call's path. Safe for concurrent use.
func (m *Meter) TenantBudgets(ctx context.Context) ([]TenantBudget, error) {
	s := m.cur.Load()
	cfg := &s.budget
	if len(cfg.Tenants) == 0 {
		return nil, nil
	}
	now := m.clock.Now()
	names := slices.Sorted(maps.Keys(cfg.Tenants))
	out := make([]TenantBudget, len(names))
	buckets := make([]Bucket, len(names))
	for i, t := range names {
		b := cfg.Tenants[t]
		out[i] = TenantBudget{Tenant: t, Limit: b.Limit}
		buckets[i], _ = bucketFor("tenant:"+t, b, now, cfg.Location) // validated
	}
	r, ok := m.store.(BudgetReader)
	if !ok {
		return out, fmt.Errorf("billing: the budget store %T cannot be read: %w", m.store, errors.ErrUnsupported)
	}
	bal, err := r.Balances(ctx, buckets, now)
	if err != nil {
		return out, err
	}
	if len(bal) != len(out) {
		return out, fmt.Errorf("billing: the budget store read %d of %d buckets", len(bal), len(out))
	}
	for i := range out {
		out[i].Spent, out[i].Held = bal[i].Spent, bal[i].Held
	}
	return out, nil
}
