package billing_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/billing"
)

// stores returns each BudgetStore under test, fresh.
func stores(t *testing.T) map[string]billing.BudgetStore {
	out := map[string]billing.BudgetStore{"local": billing.NewLocalBudgets()}
	rdb, prefix := redisForTest(t)
	rs, err := billing.NewRedisBudgets(rdb, billing.RedisBudgetConfig{Prefix: prefix})
	require.NoError(t, err)
	out["redis"] = rs
	return out
}

// The store contract: all-or-none holds across buckets, settle to the real
// cost, a crashed caller's hold expires, a hold id is held once.
func TestBudgetStoreContract(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			key := billing.Bucket{Name: "key:a:all", Limit: 100}
			tenant := billing.Bucket{Name: "tenant:t:day:2026-12-01", Limit: 150, Ends: now.Add(12 * time.Hour)}
			both := []billing.Bucket{key, tenant}

			refused, err := s.Reserve(ctx, "c1", both, 60, time.Minute, now)
			require.NoError(t, err)
			assert.Equal(t, -1, refused)
			refused, err = s.Reserve(ctx, "c1", both, 60, time.Minute, now)
			require.NoError(t, err)
			assert.Equal(t, -1, refused, "the same id again holds nothing more")
			refused, err = s.Reserve(ctx, "c2", both, 50, time.Minute, now)
			require.NoError(t, err)
			assert.Equal(t, 0, refused, "the key's bucket is full: 60+50 > 100")
			// The refusal held nothing in the tenant's bucket either.
			refused, err = s.Reserve(ctx, "c3", []billing.Bucket{tenant}, 90, time.Minute, now)
			require.NoError(t, err)
			assert.Equal(t, -1, refused, "60+90 <= 150")
			require.NoError(t, s.Settle(ctx, "c3", []billing.Bucket{tenant}, 0, now))

			require.NoError(t, s.Settle(ctx, "c1", both, 25, now))
			refused, err = s.Reserve(ctx, "c4", both, 75, time.Minute, now)
			require.NoError(t, err)
			assert.Equal(t, -1, refused, "settled to 25: 25+75 <= 100")

			// c4 never settles (its instance crashed): after its ttl it
			// no longer counts, while the spend does.
			later := now.Add(2 * time.Minute)
			refused, err = s.Reserve(ctx, "c5", both, 75, time.Minute, later)
			require.NoError(t, err)
			assert.Equal(t, -1, refused, "c4's hold expired")
			refused, err = s.Reserve(ctx, "c6", []billing.Bucket{key}, 1, time.Minute, later)
			require.NoError(t, err)
			assert.Equal(t, 0, refused, "25 spent + 75 held = 100")
			// A hold that expired still settles its spend.
			require.NoError(t, s.Settle(ctx, "c4", both, 10, later))
		})
	}
}

// Budgets in Redis survive a restart of the gateway: a new instance (a new
// client, a new store, a new Meter) refuses a key whose spend an earlier
// one recorded.
func TestRedisBudgetSurvivesRestart(t *testing.T) {
	rdb, prefix := redisForTest(t)
	caller := gateway.Caller{KeyID: "k1", Budget: gateway.Budget{Limit: 0}}
	body := bodyWithMax("1000")
	one := holdOf(t, billing.Strict, body)
	caller.Budget.Limit = one + gpt4o.Cost(gateway.Usage{PromptTokens: 10, CompletionTokens: 2})/2

	first := func() *billing.Meter {
		s, err := billing.NewRedisBudgets(newRedisClient(t, rdb), billing.RedisBudgetConfig{Prefix: prefix})
		require.NoError(t, err)
		m, _ := newMeter(t, billing.MeterConfig{Budget: billing.BudgetConfig{Store: s}})
		return m
	}
	m := first()
	resp, _ := call(t, gateway.Chain(canned{name: "up", body: smallReply}, m.Middleware()), caller, body)
	require.Equal(t, 200, resp.StatusCode)

	restarted := first()
	resp, _ = call(t, gateway.Chain(canned{name: "up", body: smallReply}, restarted.Middleware()), caller, body)
	assert.Equal(t, 402, resp.StatusCode, "the restarted instance remembers the spend")

	ttl, err := rdb.PTTL(context.Background(), prefix+"key:k1:all:s").Result()
	require.NoError(t, err)
	assert.Equal(t, time.Duration(-1), ttl, "a budget that never resets keeps its spend")
}

// A period's keys expire some time after the period ends, not before.
func TestRedisBucketKeysExpireAfterTheirPeriod(t *testing.T) {
	rdb, prefix := redisForTest(t)
	s, err := billing.NewRedisBudgets(rdb, billing.RedisBudgetConfig{Prefix: prefix, Retain: time.Hour})
	require.NoError(t, err)
	now := time.Now()
	b := billing.Bucket{Name: "tenant:t:day:x", Limit: 10, Ends: now.Add(2 * time.Hour)}
	_, err = s.Reserve(context.Background(), "c1", []billing.Bucket{b}, 5, time.Minute, now)
	require.NoError(t, err)
	ttl, err := rdb.PTTL(context.Background(), prefix+"tenant:t:day:x:s").Result()
	require.NoError(t, err)
	assert.InDelta(t, float64(3*time.Hour), float64(ttl), float64(time.Minute))
	_, err = billing.NewRedisBudgets(rdb, billing.RedisBudgetConfig{Retain: -1})
	assert.Error(t, err)
	_, err = billing.NewRedisBudgets(nil, billing.RedisBudgetConfig{})
	assert.Error(t, err)
}

// A Settle repeated for the same id (a retry after a reply was lost, when
// the first one may have been applied) adds its spend once. (LocalBudgets
// fails only before applying anything, so it needs no such memory.)
func TestRedisSettleIsAppliedOnce(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	rdb, prefix := redisForTest(t)
	s, err := billing.NewRedisBudgets(rdb, billing.RedisBudgetConfig{Prefix: prefix})
	require.NoError(t, err)
	b := []billing.Bucket{{Name: "key:once:all", Limit: 100}}
	refused, err := s.Reserve(ctx, "c1", b, 60, time.Minute, now)
	require.NoError(t, err)
	require.Equal(t, -1, refused)
	require.NoError(t, s.Settle(ctx, "c1", b, 30, now))
	require.NoError(t, s.Settle(ctx, "c1", b, 30, now.Add(time.Second)))
	// Never held (or its hold expired) and settled twice: once too.
	require.NoError(t, s.Settle(ctx, "c2", b, 40, now))
	require.NoError(t, s.Settle(ctx, "c2", b, 40, now))
	spent, held, err := s.Spent(ctx, "key:once:all")
	require.NoError(t, err)
	assert.Equal(t, int64(70), spent)
	assert.Zero(t, held)
	refused, err = s.Reserve(ctx, "c3", b, 30, time.Minute, now.Add(2*time.Second))
	require.NoError(t, err)
	assert.Equal(t, -1, refused, "30+40 spent, 30 more fits 100")
	refused, err = s.Reserve(ctx, "c4", b, 1, time.Minute, now.Add(2*time.Second))
	require.NoError(t, err)
	assert.Equal(t, 0, refused, "30+40 spent and 30 held fill it")

	// What remembers the settled ids is bounded: forgotten minutes later.
	require.NoError(t, s.Settle(ctx, "c3", b, 0, now.Add(10*time.Minute)))
	n, err := rdb.HLen(ctx, prefix+"key:once:all:h").Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "only c3's, settled last")
	n, err = rdb.ZCard(ctx, prefix+"key:once:all:z").Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
}

// A hold of zero (a call admitted unpriced, BudgetConfig.AdmitUnpriced)
// settles, and expires, like any other.
func TestBudgetStoreZeroHold(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			b := []billing.Bucket{{Name: "key:zero:all", Limit: 100}}
			for _, id := range []string{"c1", "c2"} {
				refused, err := s.Reserve(ctx, id, b, 0, time.Minute, now)
				require.NoError(t, err)
				require.Equal(t, -1, refused)
			}
			require.NoError(t, s.Settle(ctx, "c1", b, 5, now))
			// c2 never settles: its zero hold expires at the next call.
			refused, err := s.Reserve(ctx, "c3", b, 95, time.Minute, now.Add(2*time.Minute))
			require.NoError(t, err)
			assert.Equal(t, -1, refused)
			require.NoError(t, s.Settle(ctx, "c3", b, 1, now.Add(2*time.Minute)))
		})
	}
}
