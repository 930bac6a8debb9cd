package gateway

import "time"

// Clock is the source of time for every component that reads it, so tests can
// drive time by hand (gatewaytest.Clock). Wherever a Clock is optional, nil
// means the system clock. Implementations must be safe for concurrent use.
type Clock interface {
	Now() time.Time
	// NewTimer starts a timer that sends the time on c once, after d. stop
	// prevents it from firing and reports whether it did so, as
	// time.Timer.Stop does.
	NewTimer(d time.Duration) (c <-chan time.Time, stop func() bool)
}
