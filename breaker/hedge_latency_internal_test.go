package breaker

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLatenciesPercentileOfTheRecentSamples(t *testing.T) {
	var l latencies
	for i := range latencyMin - 1 {
		l.add(time.Duration(i+1) * time.Millisecond)
	}
	_, ok := l.percentile(0.99)
	assert.False(t, ok, "too few samples to trust")

	l.add(latencyMin * time.Millisecond)
	d, ok := l.percentile(0.5)
	require.True(t, ok)
	assert.Equal(t, time.Duration(latencyMin/2+1)*time.Millisecond, d)

	// The cached value holds until latencyEvery more samples have come.
	for range latencyEvery - 1 {
		l.add(time.Second)
	}
	d, _ = l.percentile(0.5)
	assert.Equal(t, time.Duration(latencyMin/2+1)*time.Millisecond, d, "recomputed too soon")
	l.add(time.Second)
	d, _ = l.percentile(0.5)
	assert.Equal(t, time.Second, d, "the samples since (64 of 96) are the median now")

	// Only the ring's samples count: the first ones fall out of it.
	for range latencySamples {
		l.add(time.Minute)
	}
	d, _ = l.percentile(0.01)
	assert.Equal(t, time.Minute, d)
}

// Adds and reads from many goroutines at once (run with -race): once the
// adds stop, the percentile is that of the ring.
func TestLatenciesConcurrentAddAndPercentile(t *testing.T) {
	var l latencies
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				if g%2 == 0 {
					l.add(time.Duration(i%100+1) * time.Millisecond)
				} else if d, ok := l.percentile(0.99); ok {
					assert.Positive(t, d)
				}
			}
		})
	}
	wg.Wait()
	for range latencySamples {
		l.add(7 * time.Millisecond)
	}
	d, ok := l.percentile(0.99)
	require.True(t, ok)
	assert.Equal(t, 7*time.Millisecond, d)
}

// A reader never waits for a recomputation another has begun, once there
// is a value to give; the first computation, with none yet, is waited for.
func TestLatenciesReaderKeepsTheCachedValueDuringARecomputation(t *testing.T) {
	var l latencies
	for range latencyMin {
		l.add(time.Millisecond)
	}
	l.mu.Lock() // a recomputation in progress, with nothing cached yet
	got := make(chan time.Duration, 1)
	go func() { d, _ := l.percentile(0.5); got <- d }()
	select {
	case d := <-got:
		t.Fatalf("the first computation was not waited for: got %v", d)
	case <-time.After(20 * time.Millisecond): // a bounded look; the value is what is asserted
	}
	l.mu.Unlock()
	assert.Equal(t, time.Millisecond, <-got)

	for range latencyEvery {
		l.add(time.Second)
	}
	require.True(t, l.stale.Load(), "due for recomputation")
	l.mu.Lock()
	d, ok := l.percentile(0.5)
	l.mu.Unlock()
	assert.True(t, ok)
	assert.Equal(t, time.Millisecond, d, "the cached value, at once, while the lock is held")
	d, _ = l.percentile(0.5)
	assert.Equal(t, time.Second, d, "recomputed once the lock is free")
}
