package health

import (
	"errors"
	"fmt"
	"time"

	"github.com/llmgate/gateway"
)

// Config configures a Checker. Its zero value probes every 10 s ± 10%, gives
// each probe 5 s, marks a target down after 3 failures in a row and up again
// after 2 successes in a row. A field left zero takes its default; a
// negative or out-of-range one is an error (Validate).
type Config struct {
	// Interval is the time between the end of one probe of a target and the
	// start of the next, before jitter. Default DefaultInterval.
	Interval time.Duration
	// Jitter spreads probes so that a fleet of gateways does not probe an
	// upstream in step: each wait is drawn uniformly from
	// [Interval×(1−Jitter), Interval×(1+Jitter)], and a target's first probe
	// from [0, Interval×Jitter] after it is added. In [0, 1); 0 means
	// DefaultJitter.
	Jitter float64
	// Timeout bounds each probe: its context is cancelled when Timeout has
	// passed on Clock, and the probe counts as a failure. At most Interval.
	// Default DefaultTimeout.
	Timeout time.Duration
	// UnhealthyThreshold (N) is how many failed probes in a row mark a
	// healthy target unhealthy. Default DefaultUnhealthyThreshold.
	UnhealthyThreshold int
	// HealthyThreshold (M) is how many passed probes in a row mark an
	// unhealthy target healthy again. Default DefaultHealthyThreshold.
	HealthyThreshold int
	// OnChange, if set, is told of every transition, exactly once each:
	// the target's name, its new health, and for a target going down the
	// error of the probe that decided it (nil going up). It is called from
	// the target's probe goroutine, outside the Checker's locks, one call at
	// a time per target and in order; Close waits for a call in progress.
	// For logs and metrics: the error holds no key (see Prober).
	OnChange func(target string, healthy bool, err error)
	// Clock is the source of time for waits and timeouts; nil means the
	// system clock.
	Clock gateway.Clock
	// Seed, when not 0, makes the jitter reproducible (for tests).
	Seed uint64
	// Deferred makes a Checker probe nothing until its Start: the targets'
	// gates exist from NewChecker and Update (reading healthy), for a
	// router built before it serves, but no probe loop runs, and so no
	// upstream is called, before the program starts serving (a program
	// that only checks its configuration calls none). Without it, a
	// target's probes begin as it is added.
	Deferred bool
}

// Defaults of Config.
const (
	DefaultInterval           = 10 * time.Second
	DefaultJitter             = 0.1
	DefaultTimeout            = 5 * time.Second
	DefaultUnhealthyThreshold = 3
	DefaultHealthyThreshold   = 2
)

// maxThreshold bounds the thresholds: beyond it a target could never change.
const maxThreshold = 1000

func (c Config) withDefaults() Config {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Jitter == 0 {
		c.Jitter = DefaultJitter
	}
	if c.Timeout == 0 {
		c.Timeout = min(DefaultTimeout, c.Interval)
	}
	if c.UnhealthyThreshold == 0 {
		c.UnhealthyThreshold = DefaultUnhealthyThreshold
	}
	if c.HealthyThreshold == 0 {
		c.HealthyThreshold = DefaultHealthyThreshold
	}
	return c
}

// ErrConfig is wrapped by every error Validate, NewChecker, Update and
// NewReadiness return for an invalid configuration.
var ErrConfig = errors.New("health: invalid configuration")

func configError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
}

// Validate reports every invalid field at once (errors.Join): a negative
// Interval or Timeout, a Jitter outside [0, 1), a threshold negative or
// over 1000, or a Timeout longer than the Interval (once defaults apply).
func (c Config) Validate() error {
	var errs []error
	if c.Interval < 0 {
		errs = append(errs, configError("Interval %v is negative", c.Interval))
	}
	if c.Timeout < 0 {
		errs = append(errs, configError("Timeout %v is negative", c.Timeout))
	}
	if !(c.Jitter >= 0 && c.Jitter < 1) { // NaN fails too
		errs = append(errs, configError("Jitter %v is not in [0, 1)", c.Jitter))
	}
	for _, th := range []struct {
		name string
		v    int
	}{{"UnhealthyThreshold", c.UnhealthyThreshold}, {"HealthyThreshold", c.HealthyThreshold}} {
		if th.v < 0 || th.v > maxThreshold {
			errs = append(errs, configError("%s %d is not in 1..%d", th.name, th.v, maxThreshold))
		}
	}
	if d := c.withDefaults(); len(errs) == 0 && d.Timeout > d.Interval {
		errs = append(errs, configError("Timeout %v is longer than Interval %v", d.Timeout, d.Interval))
	}
	return errors.Join(errs...)
}
