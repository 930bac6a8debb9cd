package clock_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/internal/clock"
)

// On a fake clock, f runs once when the clock reaches d, and a stop after
// that reports false.
func TestAfterFuncFiresOnTheFakeClock(t *testing.T) {
	clk := gatewaytest.NewClock(time.Unix(0, 0))
	called := make(chan struct{})
	stop := clock.AfterFunc(clk, time.Second, func() { close(called) })
	require.Equal(t, 1, clk.Timers(), "the timer is set before AfterFunc returns")
	clk.Advance(999 * time.Millisecond)
	select {
	case <-called:
		t.Fatal("called before d")
	default:
	}
	clk.Advance(time.Millisecond)
	select {
	case <-called:
	case <-time.After(10 * time.Second): // a bound, should it never run
		t.Fatal("f not called")
	}
	assert.False(t, stop(), "f already ran")
}

// A stop before d prevents f on either clock, and leaves no goroutine
// (goleak checks at the end).
func TestAfterFuncStopPrevents(t *testing.T) {
	for _, c := range []clock.Clock{gatewaytest.NewClock(time.Unix(0, 0)), nil} {
		var calls atomic.Int32
		stop := clock.AfterFunc(c, time.Hour, func() { calls.Add(1) })
		assert.True(t, stop())
		assert.False(t, stop(), "a second stop prevents nothing")
		if fake, ok := c.(*gatewaytest.Clock); ok {
			assert.Zero(t, fake.Timers())
			fake.Advance(2 * time.Hour)
		}
		assert.Zero(t, calls.Load())
	}
}

// When the first stop reports false, f has run or is about to: a caller
// may rely on it to know the deadline passed.
func TestAfterFuncStopFalseMeansCalled(t *testing.T) {
	for _, c := range []clock.Clock{gatewaytest.NewClock(time.Unix(0, 0)), clock.System{}} {
		called := make(chan struct{})
		stop := clock.AfterFunc(c, time.Nanosecond, func() { close(called) })
		if fake, ok := c.(*gatewaytest.Clock); ok {
			fake.Advance(time.Second)
		} else {
			<-called // the system timer is due at once
		}
		assert.False(t, stop())
		select {
		case <-called:
		case <-time.After(10 * time.Second):
			t.Fatal("stop reported false but f never ran")
		}
	}
}
