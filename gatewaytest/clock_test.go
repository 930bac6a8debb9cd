package gatewaytest_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func fired(tm gateway.Timer) (time.Time, bool) {
	select {
	case v := <-tm.C():
		return v, true
	default:
		return time.Time{}, false
	}
}

func TestClockTimersFireInOrder(t *testing.T) {
	c := gatewaytest.NewClock(t0)
	assert.Equal(t, t0, c.Now())
	late := c.NewTimer(3 * time.Second)
	early := c.NewTimer(time.Second)
	same := c.NewTimer(time.Second)
	assert.Equal(t, 3, c.Timers())

	c.Advance(999 * time.Millisecond)
	_, ok := fired(early)
	assert.False(t, ok)

	order := make(chan string, 3)
	for name, tm := range map[string]gateway.Timer{"early": early, "same": same, "late": late} {
		go func() {
			<-tm.C()
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
	var ts []gateway.Timer
	for _, d := range []time.Duration{5, 1, 3, 2, 4} {
		ts = append(ts, c.NewTimer(d*time.Second))
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
	tm := c.NewTimer(time.Second)
	assert.True(t, tm.Stop())
	assert.False(t, tm.Stop(), "already stopped")
	assert.Zero(t, c.Timers())
	c.Advance(time.Hour)
	_, ok := fired(tm)
	assert.False(t, ok, "a stopped timer never fires")

	done := c.NewTimer(time.Second)
	c.Advance(time.Second)
	assert.False(t, done.Stop(), "already fired")
}

func TestClockSetAndZeroTimer(t *testing.T) {
	c := gatewaytest.NewClock(t0)
	now := c.NewTimer(0)
	v, ok := fired(now)
	require.True(t, ok, "a zero timer fires at once")
	assert.Equal(t, t0, v)

	tm := c.NewTimer(time.Minute)
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
	go func() { done <- gateway.Sleep(context.Background(), c, time.Minute) }()
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
				tm := c.NewTimer(time.Millisecond)
				_ = c.Now()
				tm.Stop()
			}
		}()
	}
	for range 100 {
		c.Advance(time.Millisecond)
	}
	wg.Wait()
	assert.Equal(t, t0.Add(100*time.Millisecond), c.Now())
}
