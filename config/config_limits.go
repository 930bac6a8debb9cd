package config

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/limiter"
)

// rateLimitsConf is the rate-limit part of the limits section: the
// limiter's rules and where shared ones live (limiter.Config).
type rateLimitsConf struct {
	Rules []ruleConf `yaml:"rules"`
	// Redis is the address of the Redis that holds the rules marked
	// shared; required when one is.
	Redis            string        `yaml:"redis"`
	TimeZone         string        `yaml:"time_zone"`          // quotas' calendar; default UTC
	MaxWait          time.Duration `yaml:"max_wait"`           // wait for capacity instead of a 429; default none
	DefaultMaxTokens int64         `yaml:"default_max_tokens"` // reserved for a call with no max_tokens; default 4096
}

// ruleConf is one limiter.Rule.
type ruleConf struct {
	Name       string          `yaml:"name"`
	Dimensions []string        `yaml:"dimensions"` // key, tenant, model, target
	Models     []string        `yaml:"models"`
	Unit       string          `yaml:"unit"` // requests, tokens, concurrent
	Limit      int64           `yaml:"limit"`
	Per        string          `yaml:"per"` // second, minute, hour, day, month
	Burst      int64           `yaml:"burst"`
	Shares     map[int]float64 `yaml:"shares"` // priority group -> guaranteed share
	Shared     bool            `yaml:"shared"`
	FailOpen   bool            `yaml:"fail_open"`
}

// rateLimits is the limits section's limiter, or nil when it has no rules,
// with the Redis client it made (nil without one), each mistake reported at
// its key.
func (c *checker) rateLimits(l *rateLimitsConf) (*limiter.Limiter, *redis.Client) {
	var rdb *redis.Client
	if l.Redis != "" {
		// Made even for an address found wrong (it dials nothing yet), so
		// that the shared rules are not blamed for a Redis they have.
		c.hostPort("limits.redis", l.Redis, "127.0.0.1:6379")
		rdb = redis.NewClient(&redis.Options{Addr: l.Redis, ContextTimeoutEnabled: true,
			DialTimeout: limiter.DefaultRedisTimeout, MaxRetries: -1})
	}
	cfg, ok := c.limiterConfig(l, rdb)
	if !ok {
		return nil, rdb
	}
	lim, err := limiter.New(cfg)
	c.lib("limits", err)
	return lim, rdb
}

// limiterConfig is the limits section as the limiter's config, with rdb
// for its shared rules, and whether it has rules that all passed, each
// mistake reported at its key. Reload takes its rules for Limiter.Update.
func (c *checker) limiterConfig(l *rateLimitsConf, rdb *redis.Client) (limiter.Config, bool) {
	if len(l.Rules) == 0 {
		if l.Redis != "" || l.TimeZone != "" || l.MaxWait != 0 || l.DefaultMaxTokens != 0 {
			c.fail("limits", "redis, time_zone, max_wait and default_max_tokens need rules")
		}
		return limiter.Config{}, false
	}
	cfg := limiter.Config{
		MaxWait:          positive(c, "limits.max_wait", l.MaxWait),
		DefaultMaxTokens: positive(c, "limits.default_max_tokens", l.DefaultMaxTokens),
	}
	if l.TimeZone != "" {
		loc, err := time.LoadLocation(l.TimeZone)
		if err != nil {
			c.fail("limits.time_zone", "unknown time zone %q", l.TimeZone)
		}
		cfg.Location = loc
	}
	all := true  // every rule's parts could be read
	var at []int // the index in l.Rules of each of cfg.Rules
	for i, rc := range l.Rules {
		path := fmt.Sprintf("limits.rules[%d]", i)
		r := limiter.Rule{Name: rc.Name, Models: rc.Models, Limit: rc.Limit, Burst: rc.Burst,
			Shares: rc.Shares, Shared: rc.Shared, FailOpen: rc.FailOpen}
		parts := true
		for j, d := range rc.Dimensions {
			var dim limiter.Dimension
			parts = c.lib(fmt.Sprintf("%s.dimensions[%d]", path, j), dim.UnmarshalText([]byte(d))) && parts
			r.Dimensions = append(r.Dimensions, dim)
		}
		parts = c.lib(path+".unit", r.Unit.UnmarshalText([]byte(rc.Unit))) && parts
		if rc.Per != "" {
			parts = c.lib(path+".per", r.Per.UnmarshalText([]byte(rc.Per))) && parts
		}
		// A rule whose parts could not be read is not blamed again whole.
		if parts {
			cfg.Rules, at = append(cfg.Rules, r), append(at, i)
		} else {
			all = false
		}
	}
	if rdb != nil {
		cfg.Redis = rdb
	}
	// The limiter's checks, each rule's own and what only the set shows
	// (a repeated name, a shared rule with no redis), each reported at
	// the rule it is about.
	valid := true
	for _, err := range joined(cfg.Validate()) {
		path := "limits.rules"
		if re, ok := err.(*limiter.RuleError); ok {
			path = fmt.Sprintf("limits.rules[%d]", at[re.Rule])
			if errors.Is(err, limiter.ErrNoRedis) {
				// Said in this file's words: Config.Redis is limits.redis;
				// one that could not be read is already reported, and one
				// the file sets but the running gateway has none of is a
				// reload's (limits.redis needs a restart).
				switch {
				case c.dropped("limits.redis"):
				case l.Redis != "":
					c.fail(path+".shared", "needs limits.redis, which this gateway was started without: it applies at a restart")
				default:
					c.fail(path+".shared", "needs limits.redis (host:port): a shared rule's counts are kept in Redis")
				}
				valid = false
				continue
			}
		}
		valid = c.lib(path, err) && valid
	}
	return cfg, len(cfg.Rules) > 0 && valid && all
}

// joined returns the errors errors.Join put together in err, or err alone.
func joined(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// targetLimit returns the middleware that applies the limiter's rules keyed
// on target to the router target called name, or nil without a limiter.
func targetLimit(lim *limiter.Limiter, name string) gateway.Middleware {
	if lim == nil {
		return nil
	}
	return lim.Target(name)
}

// printLimits prints the rules in force, one line each, after the banner.
func printLimits(w io.Writer, lim *limiter.Limiter, l *rateLimitsConf) {
	if lim == nil {
		return
	}
	var b strings.Builder
	b.WriteString("limits:\n")
	tokens := false
	for _, r := range lim.Rules() {
		tokens = tokens || r.Unit == limiter.Tokens
		per := r.Per.String()
		if r.Unit == limiter.Concurrent {
			per = "at once"
		} else {
			per = "per " + per
		}
		scope := "all calls"
		if len(r.Dimensions) > 0 {
			dims := make([]string, len(r.Dimensions))
			for i, d := range r.Dimensions {
				dims[i] = d.String()
			}
			scope = "each " + strings.Join(dims, " × ")
		}
		models := "every model"
		if len(r.Models) > 0 {
			models = strings.Join(r.Models, ", ")
		}
		shared := ""
		if r.Shared {
			shared = ", shared through Redis"
		}
		fmt.Fprintf(&b, "  %s: %d %s %s, %s, on %s%s\n", r.Name, r.Limit, r.Unit, per, scope, models, shared)
	}
	if tokens {
		fmt.Fprintf(&b, "  a call without max_tokens reserves its prompt + %d tokens until it ends (then settles to its usage);\n",
			cmp.Or(l.DefaultMaxTokens, limiter.DefaultMaxTokens))
	}
	b.WriteString("  refusals are 429 rate_limit_exceeded with Retry-After; see the x-ratelimit-* headers with curl -i\n\n")
	_, _ = io.WriteString(w, b.String())
}
