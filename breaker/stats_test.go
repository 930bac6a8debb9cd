package breaker_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/llmgate/gateway/breaker"
)

// Stats tells the state, the cooldown left and how many cooldowns started
// or grew; a shorter one inside a longer one changes nothing.
func TestBreakerStatsCountCooldowns(t *testing.T) {
	clk := newClock()
	cb := must(breaker.NewCircuitBreaker("a", breaker.Config{Clock: clk}))
	assert.Equal(t, breaker.Stats{State: breaker.Closed}, cb.Stats())
	cb.CoolDown(10 * time.Second)
	cb.CoolDown(time.Second) // inside the first: not counted
	clk.Advance(4 * time.Second)
	assert.Equal(t, breaker.Stats{State: breaker.Closed, CoolingFor: 6 * time.Second, Cooldowns: 1}, cb.Stats())
	clk.Advance(6 * time.Second)
	cb.CoolDown(time.Second)
	assert.Equal(t, breaker.Stats{State: breaker.Closed, CoolingFor: time.Second, Cooldowns: 2}, cb.Stats())
}
