package metrics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/metrics"
)

// fixedBreaker says a fixed count of cooldowns.
type fixedBreaker struct{ cooldowns uint64 }

func (f *fixedBreaker) Stats() breaker.Stats { return breaker.Stats{Cooldowns: f.cooldowns} }

// A breaker that replaces another for its target (new breaker settings on
// a reload) counts its cooldowns on from the one before: the counter never
// goes down, across any number of replacements.
func TestReplacedBreakerCooldownsNeverGoDown(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(metrics.Config{Registerer: reg})
	require.NoError(t, err)
	cooldowns := func() float64 {
		return counterValue(t, reg, "llmgate_breaker_cooldowns_total")
	}
	first := &fixedBreaker{cooldowns: 3}
	require.True(t, m.WatchBreaker("a", first))
	assert.Equal(t, 3.0, cooldowns())
	second := &fixedBreaker{cooldowns: 1}
	require.True(t, m.WatchBreaker("a", second))
	assert.Equal(t, 4.0, cooldowns(), "3 before, 1 since")
	require.True(t, m.WatchBreaker("a", second), "the same breaker again changes nothing")
	assert.Equal(t, 4.0, cooldowns())
	require.True(t, m.WatchBreaker("a", &fixedBreaker{}))
	assert.Equal(t, 4.0, cooldowns(), "a third starts from both")
}

// counterValue gathers reg and returns the value of the one counter of the
// family name.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() == name {
			require.Len(t, f.GetMetric(), 1)
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}
