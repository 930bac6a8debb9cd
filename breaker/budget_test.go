package breaker_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
)

func TestBudgetFloorWithoutTraffic(t *testing.T) {
	b := must(breaker.NewBudget(breaker.BudgetConfig{Clock: newClock()}))
	assert.Equal(t, 10, breaker.DefaultBudgetMinRetries)
	assert.Equal(t, breaker.DefaultBudgetMinRetries, b.Available())
	for range breaker.DefaultBudgetMinRetries {
		assert.True(t, b.TryRetry())
	}
	assert.False(t, b.TryRetry(), "the floor is DefaultBudgetMinRetries (10) per window")
}

func TestBudgetRatioOfRequests(t *testing.T) {
	b := must(breaker.NewBudget(breaker.BudgetConfig{Ratio: 0.1, MinRetries: 1, Clock: newClock()}))
	for range 100 {
		b.OnRequest()
	}
	n := 0
	for n < 1000 && b.TryRetry() {
		n++
	}
	assert.Equal(t, 11, n, "10% of 100 requests plus a floor of 1")
	assert.Equal(t, 0, b.Available())
}

func TestBudgetExpiresWithTheWindow(t *testing.T) {
	clk := newClock()
	b := must(breaker.NewBudget(breaker.BudgetConfig{MinRetries: 1, Window: 10 * time.Second, Clock: clk}))
	for range 50 {
		b.OnRequest()
	}
	assert.Equal(t, 11, b.Available())
	clk.Advance(5 * time.Second)
	for range 11 {
		assert.True(t, b.TryRetry())
	}
	assert.False(t, b.TryRetry())
	clk.Advance(5 * time.Second) // the deposits leave the window; so do the withdrawals, 5 s later
	assert.Equal(t, 0, b.Available())
	clk.Advance(5 * time.Second)
	assert.Equal(t, 1, b.Available(), "only the floor is left")
	clk.Advance(time.Hour)
	assert.Equal(t, 1, b.Available())
}

// With N concurrent failing calls the retries stay within Ratio·N + floor.
func TestBudgetBoundsConcurrentRetries(t *testing.T) {
	const n = 1000
	b := must(breaker.NewBudget(breaker.BudgetConfig{Clock: newClock()}))
	var wg sync.WaitGroup
	var mu sync.Mutex
	retries := 0
	for range n {
		wg.Go(func() {
			b.OnRequest()
			for range 5 { // each call would retry 5 times
				if !b.TryRetry() {
					return
				}
				mu.Lock()
				retries++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, retries, n/5+breaker.DefaultBudgetMinRetries)
}

func BenchmarkBudgetOnRequest(b *testing.B) {
	bud := must(breaker.NewBudget(breaker.BudgetConfig{}))
	b.ReportAllocs()
	for b.Loop() {
		bud.OnRequest()
	}
}

// Regression: a Budget shared by Retry and the router it wraps was credited
// by both for every call (the router deposited too on its first run), so
// the effective ratio was twice the configured one. With Ratio 1 and a floor
// of 1, Available is 1 + the deposits, and no retry or fallback is taken
// (every target is healthy).
func TestBudgetSharedByRetryAndRouterCreditedOncePerCall(t *testing.T) {
	const n = 50
	clk := newClock()
	budget := must(breaker.NewBudget(breaker.BudgetConfig{Ratio: 1, MinRetries: 1, Clock: clk}))
	live := must(gatewaytest.NewSim("live", gatewaytest.SimConfig{Clock: clk}))
	r, err := router.New("router", []router.Target{{Provider: live, Weight: 1}},
		router.Config{Clock: clk, Budget: budget})
	require.NoError(t, err)
	chains := map[string]http.RoundTripper{
		"Retry(Router)":        gateway.Chain(r, must(breaker.Retry(breaker.RetryConfig{Budget: budget, Clock: clk}))),
		"Retry(Hedge(Router))": gateway.Chain(r, must(breaker.Retry(breaker.RetryConfig{Budget: budget, Clock: clk})), must(breaker.Hedge(breaker.HedgeConfig{Budget: budget, Clock: clk}))),
		"Hedge(Router)":        gateway.Chain(r, must(breaker.Hedge(breaker.HedgeConfig{Budget: budget, Clock: clk}))),
	}
	for name, rt := range chains {
		t.Run(name, func(t *testing.T) {
			before := budget.Available()
			for range n {
				status, _ := routerCall(t, rt)
				require.Equal(t, http.StatusOK, status)
			}
			assert.Equal(t, n, budget.Available()-before, "one deposit per call")
		})
	}
}

// Without a Call (no entry point) each RoundTrip is a call of its own.
func TestBudgetOnCallWithoutCall(t *testing.T) {
	b := must(breaker.NewBudget(breaker.BudgetConfig{Ratio: 1, MinRetries: 1, Clock: newClock()}))
	for range 5 {
		b.OnCall(nil)
	}
	c := &gateway.Call{}
	b.OnCall(c)
	b.OnCall(c)
	assert.Equal(t, 1+6, b.Available())
}
