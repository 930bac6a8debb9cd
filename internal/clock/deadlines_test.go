package clock_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/internal/clock"
)

// recorder collects the names of the deadlines that passed.
type recorder struct {
	mu    sync.Mutex
	names []string
	fired chan struct{}
}

func newRecorder() *recorder { return &recorder{fired: make(chan struct{}, 100)} }

func (r *recorder) f(name string) func() {
	return func() {
		r.mu.Lock()
		r.names = append(r.names, name)
		r.mu.Unlock()
		r.fired <- struct{}{}
	}
}

func (r *recorder) wait(t *testing.T, n int) []string {
	t.Helper()
	bound := time.NewTimer(10 * time.Second) // only if they never come
	defer bound.Stop()
	for range n {
		select {
		case <-r.fired:
		case <-bound.C:
			t.Fatal("deadlines did not pass")
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.names...)
}

// Many deadlines share one timer; each function runs once its deadline
// passes, in order, whatever the order they were added in; a removed one
// never runs.
func TestDeadlinesOneTimerInOrder(t *testing.T) {
	start := time.Unix(0, 0)
	clk := gatewaytest.NewClock(start)
	d := clock.NewDeadlines(clk)
	r := newRecorder()
	var a, b, c, e clock.Deadline
	d.Add(&a, start.Add(2*time.Second), clock.Func(r.f("a")))
	d.Add(&b, start.Add(3*time.Second), clock.Func(r.f("b")))
	d.Add(&c, start.Add(time.Second), clock.Func(r.f("c"))) // sooner than the timer: it is set again
	d.Add(&e, start.Add(3*time.Second), clock.Func(r.f("e")))
	assert.Equal(t, 1, clk.Timers(), "one timer for four deadlines")
	assert.Equal(t, 4, d.Len())
	assert.True(t, d.Remove(&e))
	assert.False(t, d.Remove(&e), "removed already")

	clk.Advance(time.Second)
	assert.Equal(t, []string{"c"}, r.wait(t, 1))
	clk.BlockUntil(1) // set for a
	clk.Advance(5 * time.Second)
	assert.Equal(t, []string{"c", "a", "b"}, r.wait(t, 2))
	assert.False(t, d.Remove(&a), "a has run")
	assert.Zero(t, d.Len())
	assert.Zero(t, clk.Timers(), "no timer left on a fake clock once none is pending")
}

// On a fake clock, removing the last pending deadline stops the timer, so
// no goroutine waits on it (goleak checks at the end).
func TestDeadlinesStopTheTimerWhenEmpty(t *testing.T) {
	clk := gatewaytest.NewClock(time.Unix(0, 0))
	d := clock.NewDeadlines(clk)
	var a clock.Deadline
	d.Add(&a, clk.Now().Add(time.Hour), clock.Func(func() { t.Error("removed, yet it ran") }))
	require.Equal(t, 1, clk.Timers())
	assert.True(t, d.Remove(&a))
	assert.Zero(t, clk.Timers())
	clk.Advance(2 * time.Hour)
	// An entry may be added again once it has been removed.
	r := newRecorder()
	d.Add(&a, clk.Now(), clock.Func(r.f("again")))
	assert.Equal(t, []string{"again"}, r.wait(t, 1))
}

// On the system clock a deadline passes too; one that is due runs at once.
func TestDeadlinesSystemClock(t *testing.T) {
	d := clock.NewDeadlines(nil)
	r := newRecorder()
	var a, b clock.Deadline
	d.Add(&a, time.Now().Add(time.Hour), clock.Func(r.f("later")))
	d.Add(&b, time.Now().Add(-time.Second), clock.Func(r.f("due")))
	assert.Equal(t, []string{"due"}, r.wait(t, 1))
	assert.True(t, d.Remove(&a))
}
