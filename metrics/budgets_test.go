package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/billing"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/metrics"
)

// The budget gauges after a known sequence: each configured tenant's limit
// and what is left of it, to the nano-dollar of the calls' records; a
// tenant no call spent keeps its whole limit.
func TestBudgetRemainingExactAfterAKnownSequence(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(metrics.Config{Registerer: reg})
	require.NoError(t, err)
	rec := &costs{}
	meter, err := billing.NewMeter(rec, billing.MeterConfig{Clock: gatewaytest.NewClock(t0), Budget: billing.BudgetConfig{
		Tenants: map[string]gateway.Budget{"acme": {Limit: 1e9, Period: "day"}, "beta": {Limit: 3e9}}}})
	require.NoError(t, err)
	m.WatchBudgets(meter)

	client := gateway.NewClient(gateway.Chain(gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 5}), meter.Middleware()))
	for range 3 {
		ctx := gateway.WithCaller(context.Background(), gateway.Caller{KeyID: "k1", Tenant: "acme"})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://gateway.invalid/v1/chat/completions", strings.NewReader(chat("gpt-4o-mini", "")))
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	require.Equal(t, int64(3), rec.n)
	require.Positive(t, rec.nano)

	assert.Equal(t, map[string]float64{"tenant=acme": 1, "tenant=beta": 3}, family(t, reg, "llmgate_budget_limit_usd"))
	assert.Equal(t, map[string]float64{"tenant=acme": float64(1e9-rec.nano) / 1e9, "tenant=beta": 3},
		family(t, reg, "llmgate_budget_remaining_usd"))
	assert.Equal(t, map[string]float64{"": 0}, family(t, reg, "llmgate_budget_read_errors_total"))

	m.WatchBudgets(nil)
	assert.Empty(t, family(t, reg, "llmgate_budget_limit_usd"), "forgotten")
}

// costs is a Recorder that sums the records' costs.
type costs struct{ n, nano int64 }

func (c *costs) Enqueue(r billing.Record) error { c.n++; c.nano += r.Cost; return nil }

// budgetsFunc adapts a function to metrics.BudgetStats.
type budgetsFunc func(ctx context.Context) ([]billing.TenantBudget, error)

func (f budgetsFunc) TenantBudgets(ctx context.Context) ([]billing.TenantBudget, error) {
	return f(ctx)
}

// A read that fails is counted, and the scrape still shows the limits
// (without what is left); the read is bounded by a deadline. A store that
// cannot be read shows the limits and counts no error. Past 256 tenants,
// the rest are not exposed.
func TestBudgetReadFailuresAreCountedAndBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(metrics.Config{Registerer: reg})
	require.NoError(t, err)
	limits := []billing.TenantBudget{{Tenant: "acme", Limit: 5e9}}
	var deadline time.Duration
	m.WatchBudgets(budgetsFunc(func(ctx context.Context) ([]billing.TenantBudget, error) {
		dl, ok := ctx.Deadline()
		require.True(t, ok, "a scrape's read has a deadline")
		deadline = time.Until(dl)
		return limits, errors.New("billing: redis balances: i/o timeout")
	}))
	for range 2 {
		assert.Equal(t, map[string]float64{"tenant=acme": 5}, family(t, reg, "llmgate_budget_limit_usd"))
	}
	assert.LessOrEqual(t, deadline, time.Second)
	assert.Empty(t, family(t, reg, "llmgate_budget_remaining_usd"))
	assert.Equal(t, map[string]float64{"": 4}, family(t, reg, "llmgate_budget_read_errors_total"), "one per scrape, this one too")

	m.WatchBudgets(budgetsFunc(func(context.Context) ([]billing.TenantBudget, error) {
		return limits, fmt.Errorf("billing: cannot be read: %w", errors.ErrUnsupported)
	}))
	assert.Equal(t, map[string]float64{"tenant=acme": 5}, family(t, reg, "llmgate_budget_limit_usd"))
	assert.Equal(t, map[string]float64{"": 4}, family(t, reg, "llmgate_budget_read_errors_total"), "not a failure; the count is kept")

	many := make([]billing.TenantBudget, 300)
	for i := range many {
		many[i] = billing.TenantBudget{Tenant: fmt.Sprintf("t%03d", i), Limit: 1}
	}
	m.WatchBudgets(budgetsFunc(func(context.Context) ([]billing.TenantBudget, error) { return many, nil }))
	assert.Len(t, family(t, reg, "llmgate_budget_remaining_usd"), 256)
}
