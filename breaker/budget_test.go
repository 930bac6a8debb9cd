package breaker_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/llmgate/gateway/breaker"
)

func TestBudgetFloorWithoutTraffic(t *testing.T) {
	b := breaker.NewBudget(breaker.BudgetConfig{Clock: newClock()})
	for range 3 {
		assert.True(t, b.TryRetry())
	}
	assert.False(t, b.TryRetry(), "the floor is 3 per window")
}

func TestBudgetRatioOfRequests(t *testing.T) {
	b := breaker.NewBudget(breaker.BudgetConfig{Ratio: 0.1, MinRetries: 1, Clock: newClock()})
	for range 100 {
		b.OnRequest()
	}
	n := 0
	for b.TryRetry() {
		n++
	}
	assert.Equal(t, 11, n, "10% of 100 requests plus a floor of 1")
	assert.Equal(t, 0, b.Available())
}

func TestBudgetExpiresWithTheWindow(t *testing.T) {
	clk := newClock()
	b := breaker.NewBudget(breaker.BudgetConfig{MinRetries: 1, Window: 10 * time.Second, Clock: clk})
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
	b := breaker.NewBudget(breaker.BudgetConfig{Clock: newClock()})
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
	assert.LessOrEqual(t, retries, n/5+3)
}

func TestBudgetRejectsBadConfig(t *testing.T) {
	for _, cfg := range []breaker.BudgetConfig{{Ratio: -0.1}, {Ratio: 1.5}, {MinRetries: -1}, {Window: -time.Second}} {
		assert.Panics(t, func() { breaker.NewBudget(cfg) }, "%+v", cfg)
	}
}

func BenchmarkBudgetOnRequest(b *testing.B) {
	bud := breaker.NewBudget(breaker.BudgetConfig{})
	b.ReportAllocs()
	for b.Loop() {
		bud.OnRequest()
	}
}
