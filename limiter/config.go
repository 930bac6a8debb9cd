package limiter

import (
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/llmgate/gateway"
)

// Config configures a Limiter. Rules are required; every other zero field
// takes its default.
type Config struct {
	Rules []Rule
	// Clock is the source of local time; nil means the system clock. Shared
	// limits read Redis's TIME instead, so instances whose clocks disagree
	// decide the same.
	Clock gateway.Clock
	// Location is the time zone of quotas' calendar days and months; nil
	// means UTC.
	Location *time.Location
	// DefaultMaxTokens is the completion a token limit reserves for a call
	// that sets no max_tokens, on top of its prompt estimate (not for an
	// embedding, which has no completion). Default 4096.
	DefaultMaxTokens int64
	// MaxWait lets a call wait for capacity, up to this long in all (and
	// within its deadline; Retry and the router's waits count too), instead
	// of being refused at once; only when the refusal says when capacity
	// returns (a bucket, not a concurrency limit or a quota). Zero refuses
	// at once. Only Middleware waits: a Target middleware refuses at once,
	// so that the router passes over a spent account to one with room.
	MaxWait time.Duration
	// MaxKeys bounds the keys each rule tracks (default 100,000). Keys at
	// rest (a full bucket, nothing in flight, no quota used) are forgotten
	// to make room; when none is, a call with a new key is refused and
	// counted (Stats.KeysFull): memory is bounded, and no key goes
	// unlimited.
	MaxKeys int

	// Redis holds the state of Shared rules; required when a rule is
	// Shared. The Limiter never closes it. A *redis.Client must have
	// ContextTimeoutEnabled, so that RedisTimeout bounds every command.
	Redis redis.UniversalClient
	// Prefix starts every Redis key of this Limiter. Default "llmgate:limiter:".
	Prefix string
	// RedisTimeout bounds every Redis command a decision waits for, so a
	// decision is made within it when Redis is slow or down. Default 200ms;
	// at most 250ms.
	RedisTimeout time.Duration
	// MaxLeaseShare is the largest share of a shared limit one instance
	// leases at once. Default 0.05: 20 instances could hold it all.
	MaxLeaseShare float64
	// LeaseFor is how long a lease should last at an instance's current
	// traffic: one used up sooner doubles the next, one lasting over four
	// times longer halves it. Default 200ms.
	LeaseFor time.Duration
	// LeaseIdle is how long an unused lease stays with an instance before
	// its units go back to Redis. Default 1s.
	LeaseIdle time.Duration
}

// The defaults of Config.
const (
	DefaultMaxTokens     = 4096
	DefaultMaxKeys       = 100_000
	DefaultPrefix        = "llmgate:limiter:"
	DefaultRedisTimeout  = 200 * time.Millisecond
	MaxRedisTimeout      = 250 * time.Millisecond
	DefaultMaxLeaseShare = 0.05
	DefaultLeaseFor      = 200 * time.Millisecond
	DefaultLeaseIdle     = time.Second
)

func (c Config) withDefaults() Config {
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.DefaultMaxTokens == 0 {
		c.DefaultMaxTokens = DefaultMaxTokens
	}
	if c.MaxKeys == 0 {
		c.MaxKeys = DefaultMaxKeys
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.RedisTimeout == 0 {
		c.RedisTimeout = DefaultRedisTimeout
	}
	if c.MaxLeaseShare == 0 {
		c.MaxLeaseShare = DefaultMaxLeaseShare
	}
	if c.LeaseFor == 0 {
		c.LeaseFor = DefaultLeaseFor
	}
	if c.LeaseIdle == 0 {
		c.LeaseIdle = DefaultLeaseIdle
	}
	return c
}

// Validate reports every problem of c (errors.Join), each wrapping
// ErrConfig: no rules, an invalid rule (Rule.Validate), a repeated name, a
// Shared rule without Redis (ErrNoRedis), a negative field, a RedisTimeout
// over 250ms, a MaxLeaseShare outside (0, 1], a *redis.Client without
// ContextTimeoutEnabled. A problem of one rule (an invalid rule, a repeated
// name, a Shared rule without Redis) is a *RuleError naming it, so that a
// configuration file can report it at the rule's own line.
func (c Config) Validate() error { return validateRules(c, c.Rules) }

// RuleError is a problem of one rule of a Config, found by Validate: Rule
// is its index in Config.Rules (the later of two that share a name).
type RuleError struct {
	Rule int
	Err  error // wraps ErrConfig
}

func (e *RuleError) Error() string { return e.Err.Error() }
func (e *RuleError) Unwrap() error { return e.Err }

func validateRules(c Config, rules []Rule) error {
	var errs []error
	if len(rules) == 0 {
		errs = append(errs, configError("no rules (a limiter with none would limit nothing)"))
	}
	names := map[string]bool{}
	for i, r := range rules {
		if err := r.Validate(); err != nil {
			errs = append(errs, &RuleError{Rule: i, Err: err})
		}
		if r.Name != "" && names[r.Name] {
			errs = append(errs, &RuleError{Rule: i, Err: configError("rule name %q twice", r.Name)})
		}
		names[r.Name] = true
		if r.Shared && c.Redis == nil {
			errs = append(errs, &RuleError{Rule: i, Err: fmt.Errorf("%w (rule %q)", ErrNoRedis, r.Name)})
		}
	}
	if c.DefaultMaxTokens < 0 || c.MaxWait < 0 || c.MaxKeys < 0 || c.RedisTimeout < 0 || c.LeaseFor < 0 || c.LeaseIdle < 0 {
		errs = append(errs, configError("negative DefaultMaxTokens, MaxWait, MaxKeys, RedisTimeout, LeaseFor or LeaseIdle"))
	}
	if c.RedisTimeout > MaxRedisTimeout {
		errs = append(errs, configError("RedisTimeout %v over %v: a decision must not wait longer for Redis", c.RedisTimeout, MaxRedisTimeout))
	}
	if c.MaxLeaseShare < 0 || c.MaxLeaseShare > 1 {
		errs = append(errs, configError("MaxLeaseShare %v not in (0, 1]", c.MaxLeaseShare))
	}
	if rc, ok := c.Redis.(*redis.Client); ok && !rc.Options().ContextTimeoutEnabled {
		errs = append(errs, configError("the Redis client needs ContextTimeoutEnabled, or RedisTimeout cannot bound its commands"))
	}
	return errors.Join(errs...)
}
