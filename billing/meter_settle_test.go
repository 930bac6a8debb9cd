package billing_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/billing"
	"github.com/llmgate/gateway/gatewaytest"
)

// downStore is a BudgetStore whose Settle fails while down is set.
type downStore struct {
	*billing.LocalBudgets
	down    atomic.Bool
	settles atomic.Int64 // failed calls
}

func (s *downStore) Settle(ctx context.Context, id string, b []billing.Bucket, actual int64, now time.Time) error {
	if s.down.Load() {
		s.settles.Add(1)
		return errors.New("store down")
	}
	return s.LocalBudgets.Settle(ctx, id, b, actual, now)
}

// A settlement the store failed is kept and retried, so the spend still
// counts: at a later call's end once its backoff has passed, and at once by
// SettlePending (the main job calls it at shutdown).
func TestMeterRetriesASettlementTheStoreFailed(t *testing.T) {
	store := &downStore{LocalBudgets: billing.NewLocalBudgets()}
	clk := gatewaytest.NewClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	m, _ := newMeter(t, billing.MeterConfig{Clock: clk, Budget: billing.BudgetConfig{Store: store}})
	rt := gateway.Chain(canned{name: "up", body: smallReply}, m.Middleware())
	caller := gateway.Caller{KeyID: "k1", Budget: gateway.Budget{Limit: 1e12}}
	one := gpt4o.Cost(gateway.Usage{PromptTokens: 10, CompletionTokens: 2})
	require.Positive(t, one)

	store.down.Store(true)
	resp, _ := call(t, rt, caller, chatBody)
	require.Equal(t, 200, resp.StatusCode)
	st := m.Stats()
	assert.Equal(t, int64(1), st.SettleErrors)
	assert.Equal(t, int64(1), st.SettlesPending)
	spent, held := store.Spent("key:k1:all")
	assert.Zero(t, spent)
	assert.Positive(t, held, "the hold stays until settled")

	// The store is back; the next call's end retries once the backoff passed.
	store.down.Store(false)
	clk.Advance(time.Second)
	resp, _ = call(t, rt, caller, chatBody)
	require.Equal(t, 200, resp.StatusCode)
	spent, held = store.Spent("key:k1:all")
	assert.Equal(t, 2*one, spent, "both calls' spend counts")
	assert.Zero(t, held)
	st = m.Stats()
	assert.Equal(t, int64(1), st.SettlesRetried)
	assert.Zero(t, st.SettlesPending)

	// Down again: SettlePending reports what is left, then settles it.
	store.down.Store(true)
	call(t, rt, caller, chatBody)
	err := m.SettlePending(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "1 ")
	store.down.Store(false)
	require.NoError(t, m.SettlePending(context.Background()))
	spent, _ = store.Spent("key:k1:all")
	assert.Equal(t, 3*one, spent)
	st = m.Stats()
	assert.Equal(t, int64(2), st.SettlesRetried)
	assert.Zero(t, st.SettlesPending)
	assert.Zero(t, st.SettlesLost)
}

// While the store stays down, a call's end does not retry before the
// backoff has passed: the store is not hammered once a call.
func TestMeterSettleRetryBacksOff(t *testing.T) {
	store := &downStore{LocalBudgets: billing.NewLocalBudgets()}
	store.down.Store(true)
	clk := gatewaytest.NewClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	m, _ := newMeter(t, billing.MeterConfig{Clock: clk, Budget: billing.BudgetConfig{Store: store}})
	rt := gateway.Chain(canned{name: "up", body: smallReply}, m.Middleware())
	caller := gateway.Caller{KeyID: "k1", Budget: gateway.Budget{Limit: 1e12}}
	for i := 0; i < 5; i++ {
		call(t, rt, caller, chatBody)
	}
	assert.Equal(t, int64(5), store.settles.Load(), "each call's own settle, no retry yet")
	clk.Advance(time.Second)
	call(t, rt, caller, chatBody)
	assert.Equal(t, int64(7), store.settles.Load(), "one retry (stopped at its failure) and the call's own")
	assert.Equal(t, int64(6), m.Stats().SettlesPending)
}

// With max_tokens unset, a hold is for the documented default output:
// BudgetConfig.DefaultMaxTokens (DefaultMaxTokens, 4096, the same as the
// Anthropic adapter sends), and under Expected at most
// ExpectedOutputTokens.
func TestBudgetHoldWithoutMaxTokensUsesTheDocumentedDefault(t *testing.T) {
	assert.Equal(t, 4096, billing.DefaultMaxTokens)
	assert.Equal(t, holdOf(t, billing.Strict, bodyWithMax("4096")), holdOf(t, billing.Strict, chatBody))
	assert.Equal(t, holdOf(t, billing.Expected, bodyWithMax("1024")), holdOf(t, billing.Expected, chatBody))
	assert.Greater(t, holdOf(t, billing.Strict, chatBody), holdOf(t, billing.Strict, bodyWithMax("16")))
}
