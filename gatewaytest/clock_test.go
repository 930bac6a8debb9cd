package gatewaytest_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/internal/clock"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// timer is what Clock.NewTimer returns.
type timer struct {
	c    <-chan time.Time
	stop func() bool
}

func newTimer(c *gatewaytest.Clock, d time.Duration) timer {
	ch, stop := c.NewTimer(d)
	return timer{ch, stop}
}

func fired(tm timer) (time.Time, bool) {
	select {
	case v := <-tm.c:
		return v, true
	default:
		return time.Time{}, false
	}
}

func TestClockTimersFireInOrder(t *testing.T) {
	c := gatewaytest.NewClock(t0)
	assert.Equal(t, t0, c.Now())
	late := newTimer(c, 3*time.Second)
	early := newTimer(c, time.Second)
	same := newTimer(c, time.Second)
	assert.Equal(t, 3, c.Timers())

	c.Advance(999 * time.Millisecond)
	_, ok := fired(early)
	assert.False(t, ok)

	order := make(chan string, 3)
	for name, tm := range map[string]timer{"early": early, "same": same, "late": late} {
		go func() {
			<-tm.c
			order <- name
		}()
	}
	c.Advance(time.Millisecond)
	assert.ElementsMatch(t, []string{"early", "same"}, []string{<-order, <-order})
	assert.Equal(t, 1, c.Timers())
	c.Advance(2 * time.Second)
	assert.Equal(t, "late", <-order)
	assert.Equal(t, t0.Add(3*time.Second), c.Now())
	assert.Zero(t, c.Timers())
}

func TestClockTimerSendsDeadlineInDeadlineOrder(t *testing.T) {
	c := gatewaytest.NewClock(t0)
	var ts []timer
	for _, d := range []time.Duration{5, 1, 3, 2, 4} {
		ts = append(ts, newTimer(c, d*time.Second))
	}
	c.Advance(10 * time.Second)
	for i, d := range []time.Duration{5, 1, 3, 2, 4} {
		v, ok := fired(ts[i])
		require.True(t, ok)
		assert.Equal(t, t0.Add(d*time.Second), v)
	}
	assert.Equal(t, t0.Add(10*time.Second), c.Now())
}

func TestClockStop(t *testing.T) {
	c := gatewaytest.NewClock(t0)
	tm := newTimer(c, time.Second)
	assert.True(t, tm.stop())
	assert.False(t, tm.stop(), "already stopped")
	assert.Zero(t, c.Timers())
	c.Advance(time.Hour)
	_, ok := fired(tm)
	assert.False(t, ok, "a stopped timer never fires")

	done := newTimer(c, time.Second)
	c.Advance(time.Second)
	assert.False(t, done.stop(), "already fired")
}

func TestClockSetAndZeroTimer(t *testing.T) {
	c := gatewaytest.NewClock(t0)
	now := newTimer(c, 0)
	v, ok := fired(now)
	require.True(t, ok, "a zero timer fires at once")
	assert.Equal(t, t0, v)

	tm := newTimer(c, time.Minute)
	c.Set(t0.Add(-time.Hour))
	assert.Equal(t, t0.Add(-time.Hour), c.Now())
	_, ok = fired(tm)
	assert.False(t, ok, "moving back fires nothing")
	c.Set(t0.Add(time.Minute))
	_, ok = fired(tm)
	assert.True(t, ok)
	assert.Panics(t, func() { c.Advance(-1) })
}

func TestClockWaitForTimers(t *testing.T) {
	c := gatewaytest.NewClock(t0)
	assert.False(t, c.WaitForTimers(1, time.Millisecond))
	done := make(chan error, 1)
	go func() { done <- clock.Sleep(context.Background(), c, time.Minute) }()
	c.BlockUntil(1)
	assert.True(t, c.WaitForTimers(1, 0))
	c.Advance(time.Minute)
	assert.NoError(t, <-done)
}

func TestClockConcurrentUse(t *testing.T) {
	c := gatewaytest.NewClock(t0)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				tm := newTimer(c, time.Millisecond)
				_ = c.Now()
				tm.stop()
			}
		}()
	}
	for range 100 {
		c.Advance(time.Millisecond)
	}
	wg.Wait()
	assert.Equal(t, t0.Add(100*time.Millisecond), c.Now())
}
