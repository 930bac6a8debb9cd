package billing_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/billing"
	"github.com/llmgate/gateway/gatewaytest"
)

// pricesOf is a table that prices gpt-4o (chatBody's model) at p.
func pricesOf(t *testing.T, p billing.Price) *billing.PriceTable {
	t.Helper()
	pt, err := billing.NewPriceTable(map[string]billing.Price{"gpt-4o": p}, nil)
	require.NoError(t, err)
	return pt
}

var (
	cheap = billing.Price{Input: billing.PerM(1), Output: billing.PerM(2)}
	dear  = billing.Price{Input: billing.PerM(10), Output: billing.PerM(20)}
	// smallUsage is smallReply's usage.
	smallUsage = gateway.Usage{PromptTokens: 10, CompletionTokens: 2}
)

// A call reserved before an Update is recorded, and settles, at the prices
// it held under; the next call at the new ones.
func TestMeterUpdateInFlightCallKeepsItsPrices(t *testing.T) {
	store := billing.NewLocalBudgets()
	m, rec := newMeter(t, billing.MeterConfig{Prices: pricesOf(t, cheap), Budget: billing.BudgetConfig{Store: store}})
	caller := gateway.Caller{KeyID: "k1", Budget: gateway.Budget{Limit: 1e12}}
	g := newGate(smallReply)
	done := make(chan struct{})
	go func() {
		defer close(done)
		call(t, gateway.Chain(g, m.Middleware()), caller, chatBody)
	}()
	<-g.arrived // held at the cheap prices

	require.NoError(t, m.Update(billing.MeterConfig{Prices: pricesOf(t, dear)}))
	close(g.release)
	<-done
	resp, _ := call(t, gateway.Chain(canned{name: "up", body: smallReply}, m.Middleware()), caller, chatBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	recs := rec.all()
	require.Len(t, recs, 2)
	assert.Equal(t, cheap.Cost(smallUsage), recs[0].Cost, "reserved before the update: the old price")
	assert.Equal(t, dear.Cost(smallUsage), recs[1].Cost, "after it: the new price")
	spent, held := store.Spent("key:k1:all")
	assert.Equal(t, recs[0].Cost+recs[1].Cost, spent, "each call settles its record's cost")
	assert.Zero(t, held)
}

// A tenant's spend survives an Update of its limit: a limit lowered below
// the spend refuses, and raised again admits.
func TestMeterUpdateKeepsSpendAcrossALimitChange(t *testing.T) {
	tenants := func(limit int64) billing.BudgetConfig {
		return billing.BudgetConfig{Tenants: map[string]gateway.Budget{"acme": {Limit: limit}}, DefaultMaxTokens: 16}
	}
	m, _ := newMeter(t, billing.MeterConfig{Prices: pricesOf(t, cheap), Budget: tenants(1e9)})
	rt := gateway.Chain(canned{name: "up", body: smallReply}, m.Middleware())
	caller := gateway.Caller{KeyID: "k1", Tenant: "acme"}
	for range 3 {
		resp, _ := call(t, rt, caller, chatBody)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	spent := 3 * cheap.Cost(smallUsage)

	require.NoError(t, m.Update(billing.MeterConfig{Prices: pricesOf(t, cheap), Budget: tenants(spent - 1)}))
	resp, body := call(t, rt, caller, chatBody)
	assert.Equal(t, http.StatusPaymentRequired, resp.StatusCode, "the spend was kept: %s", body)

	require.NoError(t, m.Update(billing.MeterConfig{Prices: pricesOf(t, cheap), Budget: tenants(1e9)}))
	resp, _ = call(t, rt, caller, chatBody)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, int64(1), m.Stats().Refused)
}

// An Update that names a store or a clock, or is invalid, changes nothing.
func TestMeterUpdateRefusesAndKeepsThePricesInForce(t *testing.T) {
	m, rec := newMeter(t, billing.MeterConfig{Prices: pricesOf(t, cheap)})
	for _, cfg := range []billing.MeterConfig{
		{Prices: pricesOf(t, dear), Budget: billing.BudgetConfig{Store: billing.NewLocalBudgets()}},
		{Prices: pricesOf(t, dear), Clock: gatewaytest.NewClock(time.Now())},
		{Prices: pricesOf(t, dear), Budget: billing.BudgetConfig{DefaultMaxTokens: -1}},
	} {
		assert.Error(t, m.Update(cfg))
	}
	call(t, gateway.Chain(canned{name: "up", body: smallReply}, m.Middleware()), gateway.Caller{KeyID: "k1"}, chatBody)
	recs := rec.all()
	require.Len(t, recs, 1)
	assert.Equal(t, cheap.Cost(smallUsage), recs[0].Cost)
}

// Updates while calls run: every call is priced by one table from its hold
// to its settlement (its record's cost is what its budget was charged), and
// no record is lost.
func TestMeterUpdateUnderLoadPricesEachCallOnce(t *testing.T) {
	store := billing.NewLocalBudgets()
	m, rec := newMeter(t, billing.MeterConfig{Prices: pricesOf(t, cheap), Budget: billing.BudgetConfig{Store: store}})
	rt := gateway.Chain(canned{name: "up", body: smallReply}, m.Middleware())
	caller := gateway.Caller{KeyID: "k1", Budget: gateway.Budget{Limit: 1e15}}
	const workers, perWorker, updates = 4, 100, 200 // bounded in count
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				call(t, rt, caller, chatBody)
			}
		})
	}
	wg.Go(func() {
		for i := range updates {
			p := cheap
			if i%2 == 0 {
				p = dear
			}
			assert.NoError(t, m.Update(billing.MeterConfig{Prices: pricesOf(t, p)}))
		}
	})
	wg.Wait()

	recs := rec.all()
	require.Len(t, recs, workers*perWorker)
	var total int64
	for _, r := range recs {
		assert.Contains(t, []int64{cheap.Cost(smallUsage), dear.Cost(smallUsage)}, r.Cost)
		total += r.Cost
	}
	spent, held := store.Spent("key:k1:all")
	assert.Equal(t, total, spent)
	assert.Zero(t, held)
}
