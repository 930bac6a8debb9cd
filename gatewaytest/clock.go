package gatewaytest

import (
	"runtime"
	"sync"
	"time"

	"github.com/llmgate/gateway"
)

// Clock is a fake gateway.Clock that moves only when told to: Advance and
// Set move it and fire the timers that come due, in deadline order (timers
// due at the same instant fire in creation order). A timer fires by sending
// its deadline on its channel, which has room for that one value, so firing
// never blocks.
//
// Tests that wait for a goroutine to block on the clock use Timers or
// WaitForTimers, then Advance. Clock is safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer // pending, unordered
	seq    uint64
}

var _ gateway.Clock = (*Clock)(nil)

// NewClock returns a Clock that reads start until it is moved.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer starts a timer that fires when the clock reaches Now()+d; a d of
// zero or less fires at once. stop prevents it from firing and reports
// whether it did so.
func (c *Clock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{c: c, when: c.now.Add(d), seq: c.seq, ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- t.when
		return t.ch, t.stop
	}
	t.pending = true
	c.timers = append(c.timers, t)
	return t.ch, t.stop
}

// Advance moves the clock forward by d, firing the timers that come due. It
// panics on a negative d: time runs backwards only through Set.
func (c *Clock) Advance(d time.Duration) {
	if d < 0 {
		panic("gatewaytest: Clock.Advance with a negative duration")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.moveLocked(c.now.Add(d))
}

// Set moves the clock to t, firing the timers due by then. Moving it back
// fires nothing.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.moveLocked(t)
}

func (c *Clock) moveLocked(to time.Time) {
	for {
		next := -1
		for i, t := range c.timers {
			if t.when.After(to) {
				continue
			}
			if next < 0 || t.when.Before(c.timers[next].when) ||
				(t.when.Equal(c.timers[next].when) && t.seq < c.timers[next].seq) {
				next = i
			}
		}
		if next < 0 {
			break
		}
		t := c.timers[next]
		c.removeLocked(next)
		if t.when.After(c.now) {
			c.now = t.when
		}
		t.ch <- t.when
	}
	c.now = to
}

func (c *Clock) removeLocked(i int) {
	c.timers[i].pending = false
	last := len(c.timers) - 1
	c.timers[i] = c.timers[last]
	c.timers[last] = nil
	c.timers = c.timers[:last]
}

// Timers returns how many timers are pending (created, not yet fired or
// stopped).
func (c *Clock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// WaitForTimers waits, in real time, until at least n timers are pending or
// timeout passes, and reports whether they are. Tests call it to know that a
// goroutine has blocked on the clock before they Advance it.
func (c *Clock) WaitForTimers(n int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for i := 0; ; i++ {
		if c.Timers() >= n {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		if i < 100 {
			runtime.Gosched()
		} else {
			time.Sleep(100 * time.Microsecond)
		}
	}
}

// BlockUntil waits until at least n timers are pending. It panics after ten
// seconds of real time, so a test that waits for a timer never created
// fails instead of hanging.
func (c *Clock) BlockUntil(n int) {
	if !c.WaitForTimers(n, 10*time.Second) {
		panic("gatewaytest: Clock.BlockUntil: timers never reached the count")
	}
}

type fakeTimer struct {
	c       *Clock
	when    time.Time
	seq     uint64
	ch      chan time.Time
	pending bool // guarded by c.mu
}

// stop prevents the timer from firing and reports whether it did so.
func (t *fakeTimer) stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if !t.pending {
		return false
	}
	for i, p := range t.c.timers {
		if p == t {
			t.c.removeLocked(i)
			break
		}
	}
	return true
}
