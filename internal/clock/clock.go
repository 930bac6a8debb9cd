// Package clock holds the system clock and the helpers that every package of
// this module uses on an optional gateway.Clock. Its Clock has the method set
// of gateway.Clock, so values of either convert to the other.
package clock

import (
	"context"
	"time"
)

// Clock is gateway.Clock's method set.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) (c <-chan time.Time, stop func() bool)
}

// System is the real clock. It is safe for concurrent use.
type System struct{}

// Now returns time.Now().
func (System) Now() time.Time { return time.Now() }

// NewTimer returns the channel and Stop of a new time.Timer.
func (System) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// Or returns c, or System when c is nil, so a config's zero Clock works.
func Or(c Clock) Clock {
	if c == nil {
		return System{}
	}
	return c
}

// Sleep waits for d on c or until ctx is done, whichever comes first. It
// returns ctx.Err() when the context ended the wait, nil otherwise. A d of
// zero or less returns at once, after checking ctx.
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	ch, stop := Or(c).NewTimer(d)
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		stop()
		return ctx.Err()
	}
}
