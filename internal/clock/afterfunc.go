package clock

import "time"

// AfterFunc calls f in its own goroutine once d has passed on c, unless the
// returned stop is called first. stop reports whether it prevented the call,
// as time.Timer.Stop does: when the first call of stop returns false, f has
// been called or is about to be. A d of zero or less calls f at once (in its
// own goroutine).
//
// On the system clock it is time.AfterFunc: no goroutine exists until f is
// due, which is what lets a per-call timeout cost no goroutine handoff. On
// any other clock (a test's fake) one goroutine waits on the clock's timer
// and ends when f has run or stop has prevented it; so stop must be called
// when f is no longer wanted, or the goroutine waits as long as the timer.
func AfterFunc(c Clock, d time.Duration, f func()) (stop func() bool) {
	c = Or(c)
	if _, ok := c.(System); ok {
		return time.AfterFunc(d, f).Stop
	}
	fire, stopTimer := c.NewTimer(d)
	quit := make(chan struct{})
	go func() {
		select {
		case <-fire:
			f()
		case <-quit:
		}
	}()
	return func() bool {
		if !stopTimer() {
			return false // fired (or stopped before): the goroutine calls f or has quit
		}
		close(quit)
		return true
	}
}
