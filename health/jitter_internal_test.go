package health

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Every wait drawn is within its bounds, and the draws spread over them
// (the bounds are reached to within a tenth of the jitter's width).
func TestJitterStaysWithinBounds(t *testing.T) {
	for _, seed := range []uint64{0, 1, 42} {
		cfg := Config{Interval: 10 * time.Second, Jitter: 0.25, Seed: seed}.withDefaults()
		j := newJitter(cfg)
		lo, hi := time.Duration(1<<62), time.Duration(0)
		firstHi := time.Duration(0)
		for range 10_000 {
			d := j.next()
			assert.GreaterOrEqual(t, d, 7500*time.Millisecond)
			assert.LessOrEqual(t, d, 12500*time.Millisecond)
			lo, hi = min(lo, d), max(hi, d)
			f := j.first()
			assert.GreaterOrEqual(t, f, time.Duration(0))
			assert.LessOrEqual(t, f, 2500*time.Millisecond)
			firstHi = max(firstHi, f)
		}
		assert.Less(t, lo, 7750*time.Millisecond, "seed %d", seed)
		assert.Greater(t, hi, 12250*time.Millisecond, "seed %d", seed)
		assert.Greater(t, firstHi, 2250*time.Millisecond, "seed %d", seed)
	}
}

// A seed makes the waits reproducible.
func TestJitterSeedReproduces(t *testing.T) {
	cfg := Config{Seed: 11}.withDefaults()
	a, b := newJitter(cfg), newJitter(cfg)
	for range 100 {
		assert.Equal(t, a.next(), b.next())
	}
}
