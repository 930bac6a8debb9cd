package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmgate/gateway/billing"
)

// BudgetStats is what WatchBudgets reads: *billing.Meter.
type BudgetStats interface {
	TenantBudgets(ctx context.Context) ([]billing.TenantBudget, error)
}

// budgetReadTimeout bounds a scrape's read of the budgets: a budget store
// that does not answer (Redis down) costs a scrape this much, never more.
const budgetReadTimeout = time.Second

var (
	budgetLimit      = desc("llmgate_budget_limit_usd", "The tenant's budget for its current period, in US dollars.", "tenant")
	budgetRemaining  = desc("llmgate_budget_remaining_usd", "Left of the tenant's budget in its current period (limit less spend and holds of calls in flight; below zero when spend overran it), in US dollars.", "tenant")
	budgetReadErrors = desc("llmgate_budget_read_errors_total", "Scrapes that could not read the budgets' spend from their store (remaining is then not exposed).")
)

// WatchBudgets reads the tenant budgets of b (the billing Meter: those
// its configuration names, BudgetConfig.Tenants) at each scrape, replacing
// the one watched before; nil forgets it. Each is exposed under its tenant
// (the first 256 by name), its limit always, what is left when the store
// answered: one read per scrape, bounded by a second, a failure counted in
// llmgate_budget_read_errors_total. A store that cannot be read
// (errors.ErrUnsupported) exposes the limits alone and counts nothing.
func (m *Metrics) WatchBudgets(b BudgetStats) {
	m.watched.mu.Lock()
	m.watched.budgets = b
	m.watched.mu.Unlock()
}

func (w *watched) collectBudgets(ch chan<- prometheus.Metric, b BudgetStats) {
	ctx, cancel := context.WithTimeout(context.Background(), budgetReadTimeout)
	budgets, err := b.TenantBudgets(ctx)
	cancel()
	if err != nil && !errors.Is(err, errors.ErrUnsupported) {
		w.budgetErrors.Add(1)
	}
	counter(ch, budgetReadErrors, float64(w.budgetErrors.Load()))
	for i, tb := range budgets {
		if i == maxWatched {
			break // tenants are configured; a bound all the same
		}
		gauge(ch, budgetLimit, usd(tb.Limit), tb.Tenant)
		if err == nil {
			gauge(ch, budgetRemaining, usd(tb.Remaining()), tb.Tenant)
		}
	}
}

// usd is nano-dollars in dollars.
func usd(nano int64) float64 { return float64(nano) / 1e9 }
