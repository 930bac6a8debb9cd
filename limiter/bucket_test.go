package limiter

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"golang.org/x/time/rate"
)

// The bucket admits what x/time/rate admits for the same rate and burst, for
// random takes at random times (both fed the same time; rate.Limiter keeps
// fractional tokens, the bucket rounds its interval up, so the two are
// compared on rates whose interval is whole).
func TestBucketAgreesWithRateLimiter(t *testing.T) {
	for _, tc := range []struct {
		limit, burst int64
		per          time.Duration
	}{{5, 5, time.Second}, {1000, 1000, time.Minute}, {60, 10, time.Minute}, {20000, 20000, time.Minute}} {
		rng := rand.New(rand.NewPCG(uint64(tc.limit), 7))
		p := newBucketParams(tc.limit, tc.burst, tc.per)
		b := newBucket(p)
		rl := rate.NewLimiter(rate.Every(time.Duration(p.interval)), int(tc.burst))
		start := time.Unix(1_000_000, 0)
		rl.AllowN(start, 0) // start both full at the same instant
		now := time.Duration(0)
		agree := 0
		for i := range 5000 {
			now += time.Duration(rng.Int64N(3 * p.interval))
			n := 1 + rng.Int64N(max(tc.burst/4, 1))
			got, _, _, _ := b.take(int64(now), n, 0)
			want := rl.AllowN(start.Add(now), int(n))
			if !assert.Equal(t, want, got, "limit %d/%v burst %d: take %d of %d at %v", tc.limit, tc.per, tc.burst, i, n, now) {
				break
			}
			agree++
		}
		assert.Equal(t, 5000, agree)
	}
}

// Giving back restores what was taken, and never fills the bucket beyond
// its burst.
func TestBucketGiveBackIsCapped(t *testing.T) {
	b := newBucket(newBucketParams(10, 10, time.Second))
	ok, _, rem, _ := b.take(0, 10, 0)
	assert.True(t, ok)
	assert.Equal(t, int64(0), rem)
	b.give(4)
	ok, _, _, _ = b.take(0, 4, 0)
	assert.True(t, ok)
	b.give(100) // more than was ever taken
	ok, _, _, _ = b.take(0, 11, 0)
	assert.False(t, ok, "the burst is still the most one take can have")
	ok, _, _, _ = b.take(0, 10, 0)
	assert.True(t, ok)
}
