package billing_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/billing"
	"github.com/llmgate/gateway/gatewaytest"
)

var (
	_ billing.BudgetReader = (*billing.LocalBudgets)(nil)
	_ billing.BudgetReader = (*billing.RedisBudgets)(nil)
)

// Balances reads each bucket's spend and live holds, in order, the same
// from both stores: a bucket never reserved in is zero, and a hold whose
// ttl has passed no longer counts.
func TestBudgetStoreBalances(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			r := s.(billing.BudgetReader)
			key := billing.Bucket{Name: "key:a:all", Limit: 100}
			tenant := billing.Bucket{Name: "tenant:t:day:2026-12-01", Limit: 150, Ends: now.Add(12 * time.Hour)}
			unused := billing.Bucket{Name: "tenant:u:all", Limit: 10}
			both := []billing.Bucket{key, tenant}

			_, err := s.Reserve(ctx, "c1", both, 60, time.Minute, now)
			require.NoError(t, err)
			require.NoError(t, s.Settle(ctx, "c1", both, 40, now))
			_, err = s.Reserve(ctx, "c2", both[1:], 30, time.Minute, now)
			require.NoError(t, err)
			_, err = s.Reserve(ctx, "c3", both[1:], 5, time.Hour, now)
			require.NoError(t, err)

			bal, err := r.Balances(ctx, []billing.Bucket{key, tenant, unused}, now.Add(time.Second))
			require.NoError(t, err)
			assert.Equal(t, []billing.Balance{{Spent: 40}, {Spent: 40, Held: 35}, {}}, bal)

			bal, err = r.Balances(ctx, []billing.Bucket{tenant}, now.Add(2*time.Minute))
			require.NoError(t, err)
			assert.Equal(t, []billing.Balance{{Spent: 40, Held: 5}}, bal, "c2's hold expired, c3's not")

			bal, err = r.Balances(ctx, nil, now)
			require.NoError(t, err)
			assert.Empty(t, bal)
		})
	}
}

// TenantBudgets reads the configured tenants' current buckets: a call's
// hold while it runs (what the store holds), its cost once it ended, and a
// tenant added by Update; exact on a local store and on Redis.
func TestMeterTenantBudgetsAfterAKnownSequence(t *testing.T) {
	rdb, prefix := redisForTest(t)
	rs, err := billing.NewRedisBudgets(rdb, billing.RedisBudgetConfig{Prefix: prefix})
	require.NoError(t, err)
	for name, store := range map[string]billing.BudgetStore{"local": billing.NewLocalBudgets(), "redis": rs} {
		t.Run(name, func(t *testing.T) {
			clk := gatewaytest.NewClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
			tenants := map[string]gateway.Budget{"acme": {Limit: 1e9, Period: "day"}, "beta": {Limit: 5e8, Period: "month"}}
			m, rec := newMeter(t, billing.MeterConfig{Prices: pricesOf(t, cheap), Clock: clk,
				Budget: billing.BudgetConfig{Store: store, Tenants: tenants}})
			ctx := context.Background()

			got, err := m.TenantBudgets(ctx)
			require.NoError(t, err)
			assert.Equal(t, []billing.TenantBudget{{Tenant: "acme", Limit: 1e9}, {Tenant: "beta", Limit: 5e8}}, got)

			g := newGate(smallReply)
			done := make(chan struct{})
			go func() {
				defer close(done)
				call(t, gateway.Chain(g, m.Middleware()), gateway.Caller{KeyID: "k1", Tenant: "acme"}, chatBody)
			}()
			<-g.arrived
			bal, err := store.(billing.BudgetReader).Balances(ctx, []billing.Bucket{{Name: "tenant:acme:day:2026-12-01"}}, clk.Now())
			require.NoError(t, err)
			require.Positive(t, bal[0].Held)
			got, err = m.TenantBudgets(ctx)
			require.NoError(t, err)
			assert.Equal(t, billing.TenantBudget{Tenant: "acme", Limit: 1e9, Held: bal[0].Held}, got[0], "the call in flight holds")
			close(g.release)
			<-done

			recs := rec.all()
			require.Len(t, recs, 1)
			require.Positive(t, recs[0].Cost)
			require.NoError(t, m.Update(billing.MeterConfig{Prices: pricesOf(t, cheap),
				Budget: billing.BudgetConfig{Tenants: map[string]gateway.Budget{"acme": {Limit: 2e9, Period: "day"}, "zed": {Limit: 1}}}}))
			got, err = m.TenantBudgets(ctx)
			require.NoError(t, err)
			assert.Equal(t, []billing.TenantBudget{{Tenant: "acme", Limit: 2e9, Spent: recs[0].Cost}, {Tenant: "zed", Limit: 1}}, got)
			assert.Equal(t, 2e9-recs[0].Cost, got[0].Remaining())

			clk.Advance(24 * time.Hour) // the next day's bucket: nothing spent yet
			got, err = m.TenantBudgets(ctx)
			require.NoError(t, err)
			assert.Equal(t, int64(2e9), got[0].Remaining())
		})
	}
}

// unreadable is a BudgetStore that is not a BudgetReader.
type unreadable struct{ billing.BudgetStore }

// A store that cannot be read, or whose read fails, gives the limits and
// an error: ErrUnsupported for the first, the store's for the second, and
// a Redis that does not answer fails within the caller's deadline.
func TestMeterTenantBudgetsWhenTheStoreCannotSay(t *testing.T) {
	tenants := map[string]gateway.Budget{"acme": {Limit: 7}}
	limits := []billing.TenantBudget{{Tenant: "acme", Limit: 7}}

	m, _ := newMeter(t, billing.MeterConfig{Budget: billing.BudgetConfig{Store: unreadable{billing.NewLocalBudgets()}, Tenants: tenants}})
	got, err := m.TenantBudgets(context.Background())
	assert.ErrorIs(t, err, errors.ErrUnsupported)
	assert.Equal(t, limits, got)

	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond, ContextTimeoutEnabled: true})
	t.Cleanup(func() { down.Close() })
	rs, err := billing.NewRedisBudgets(down, billing.RedisBudgetConfig{})
	require.NoError(t, err)
	m, _ = newMeter(t, billing.MeterConfig{Budget: billing.BudgetConfig{Store: rs, Tenants: tenants}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err = m.TenantBudgets(ctx)
	require.Error(t, err)
	assert.NotErrorIs(t, err, errors.ErrUnsupported)
	assert.Equal(t, limits, got)

	m, _ = newMeter(t, billing.MeterConfig{})
	got, err = m.TenantBudgets(context.Background())
	assert.NoError(t, err)
	assert.Empty(t, got, "no tenant budget: nothing to read")
}
