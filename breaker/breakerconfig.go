package breaker

import (
	"errors"
	"fmt"
	"time"

	"github.com/llmgate/gateway"
)

// State is a circuit breaker's state.
type State uint8

// The states of a circuit breaker.
const (
	// Closed: calls pass; results are counted.
	Closed State = iota
	// Open: calls are refused with ErrOpen until Delay has passed.
	Open
	// HalfOpen: exactly HalfOpenProbes calls pass as probes; the breaker
	// closes when SuccessThreshold of them succeed and opens again at the
	// first that fails.
	HalfOpen
)

var stateNames = [...]string{"closed", "open", "half-open"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// Config configures a CircuitBreaker. The zero value is the default breaker:
// it opens after 5 consecutive failures or when half of the last 20 results
// failed, stays open 30 s, then lets 3 probes through and closes when all 3
// succeed. It never opens on one failure (failsafe-go's own default), since
// one 5xx from a model API says little. A field left zero takes its default;
// a negative or out-of-range one is an error (Validate).
type Config struct {
	// FailureThreshold is how many consecutive failures open the breaker.
	// Default 5.
	FailureThreshold int
	// FailureRateThreshold is the share of failures over the window that
	// opens the breaker, in (0, 1]. Default 0.5.
	FailureRateThreshold float64
	// FailureThresholdWindow is the size of the count window the rate is
	// judged over: the last N results. Default 20. Ignored when
	// FailureThresholdPeriod is set.
	FailureThresholdWindow int
	// FailureThresholdPeriod, when set, judges the rate over a sliding time
	// window of this length (read from Clock) instead.
	FailureThresholdPeriod time.Duration
	// MinCalls is how many results the window must hold before its rate is
	// judged. Default 10, or FailureThresholdWindow if that is smaller.
	MinCalls int
	// Delay is how long the breaker stays open before it lets probes
	// through. Default 30 s.
	Delay time.Duration
	// HalfOpenProbes (K) is how many calls pass while half-open: exactly K,
	// however many arrive. A probe that ends without telling anything
	// about the upstream (the caller cancelled, or a 429) gives its place
	// back. Default 3.
	HalfOpenProbes int
	// SuccessThreshold is how many probes must succeed to close the breaker,
	// at most HalfOpenProbes. Default HalfOpenProbes.
	SuccessThreshold int
	// MaxRetryAfter is the ceiling on a cooldown taken from an upstream's
	// Retry-After (see CoolDown), so a broken upstream cannot park a target
	// for a day. It is the one ceiling on Retry-After in the gateway.
	// Default DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration
	// Cooldown is how long a target that answered 429 without a
	// Retry-After gets nothing. Default DefaultCooldown.
	Cooldown time.Duration
	// Classify decides each outcome; nil means the package's Classify. The
	// breaker counts Class.Failure outcomes as failures, Success and Fatal
	// as successes, and RateLimited and Canceled as neither.
	Classify Classifier
	// OnStateChange, if set, is called after every state change, outside
	// the breaker's locks, in the goroutine that caused it (calls may be
	// concurrent). For metrics.
	OnStateChange func(from, to State)
	// Clock is the source of time for Delay and cooldowns; nil means the
	// system clock.
	Clock gateway.Clock
}

// Defaults of Config.
const (
	DefaultFailureThreshold       = 5
	DefaultFailureRateThreshold   = 0.5
	DefaultFailureThresholdWindow = 20
	DefaultMinCalls               = 10
	DefaultDelay                  = 30 * time.Second
	DefaultHalfOpenProbes         = 3
	DefaultCooldown               = time.Second
)

func (c Config) withDefaults() Config {
	if c.FailureThreshold == 0 {
		c.FailureThreshold = DefaultFailureThreshold
	}
	if c.FailureRateThreshold == 0 {
		c.FailureRateThreshold = DefaultFailureRateThreshold
	}
	if c.FailureThresholdWindow == 0 {
		c.FailureThresholdWindow = DefaultFailureThresholdWindow
	}
	if c.MinCalls == 0 {
		c.MinCalls = DefaultMinCalls
		if c.FailureThresholdPeriod == 0 {
			c.MinCalls = min(c.MinCalls, c.FailureThresholdWindow)
		}
	}
	if c.Delay == 0 {
		c.Delay = DefaultDelay
	}
	if c.HalfOpenProbes == 0 {
		c.HalfOpenProbes = DefaultHalfOpenProbes
	}
	if c.SuccessThreshold == 0 {
		c.SuccessThreshold = c.HalfOpenProbes
	}
	if c.MaxRetryAfter == 0 {
		c.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if c.Cooldown == 0 {
		c.Cooldown = DefaultCooldown
	}
	if c.Classify == nil {
		c.Classify = Classify
	}
	return c
}

// Validate reports every invalid field at once, joined (errors.Join): a
// negative count or duration, a FailureRateThreshold outside (0, 1], or a
// SuccessThreshold above HalfOpenProbes (once the defaults are applied).
func (c Config) Validate() error {
	var errs []error
	neg := func(name string, v int64) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("breaker: Config.%s is negative", name))
		}
	}
	neg("FailureThreshold", int64(c.FailureThreshold))
	neg("FailureThresholdWindow", int64(c.FailureThresholdWindow))
	neg("MinCalls", int64(c.MinCalls))
	neg("HalfOpenProbes", int64(c.HalfOpenProbes))
	neg("SuccessThreshold", int64(c.SuccessThreshold))
	neg("FailureThresholdPeriod", int64(c.FailureThresholdPeriod))
	neg("Delay", int64(c.Delay))
	neg("MaxRetryAfter", int64(c.MaxRetryAfter))
	neg("Cooldown", int64(c.Cooldown))
	if c.FailureRateThreshold != 0 && !(c.FailureRateThreshold > 0 && c.FailureRateThreshold <= 1) {
		errs = append(errs, fmt.Errorf("breaker: Config.FailureRateThreshold %v is not in (0, 1]", c.FailureRateThreshold))
	}
	if d := c.withDefaults(); c.SuccessThreshold > 0 && d.HalfOpenProbes > 0 && d.SuccessThreshold > d.HalfOpenProbes {
		errs = append(errs, fmt.Errorf("breaker: Config.SuccessThreshold %d is above HalfOpenProbes %d", d.SuccessThreshold, d.HalfOpenProbes))
	}
	return errors.Join(errs...)
}
