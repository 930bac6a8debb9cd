package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/router"
)

// checker collects configuration errors, each at its key's line.
type checker struct {
	src  *source
	errs []error
}

func (c *checker) fail(path, format string, args ...any) {
	c.errs = append(c.errs, c.src.errorf(path, format, args...))
}

// positive checks a value whose zero means "the default": written with a
// zero or negative value, it is an error, never "off" or "unlimited".
func positive[T int | int64 | float64 | time.Duration](c *checker, path string, v T) {
	if c.src.has(path) && v <= 0 {
		c.fail(path, "must be positive (leave it out for the default)")
	}
}

func notNegative[T int | float64 | time.Duration](c *checker, path string, v T) {
	if v < 0 {
		c.fail(path, "must not be negative")
	}
}

func share(c *checker, path string, v float64) {
	if !(v >= 0 && v <= 1) {
		c.fail(path, "must be in [0, 1]")
	}
}

func nonEmpty(c *checker, path string, names []string) {
	for i, m := range names {
		if m == "" {
			c.fail(fmt.Sprintf("%s[%d]", path, i), "empty model name")
		}
	}
}

func nonEmptyMap(c *checker, path string, m map[string]string) {
	for k, v := range m {
		if k == "" || v == "" {
			c.fail(path, "empty name in a mapping")
		}
	}
}

// validate checks everything that can be checked without building; the
// constructors in build check the rest.
func (cfg *config) validate() error {
	c := &checker{src: &cfg.src}
	if cfg.Listen != "" {
		if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
			c.fail("listen", "want host:port (e.g. 127.0.0.1:8080)")
		}
	}
	positive(c, "shutdown_timeout", cfg.ShutdownTimeout)
	positive(c, "limits.max_body_bytes", cfg.Limits.MaxBodyBytes)
	positive(c, "limits.max_depth", cfg.Limits.MaxDepth)
	positive(c, "limits.max_messages", cfg.Limits.MaxMessages)
	positive(c, "limits.max_tokens", cfg.Limits.MaxTokens)

	if len(cfg.Providers) == 0 {
		c.fail("providers", "at least one provider is required")
	}
	names := map[string]bool{}
	for i := range cfg.Providers {
		p := &cfg.Providers[i]
		path := fmt.Sprintf("providers[%d]", i)
		switch {
		case p.Name == "":
			c.fail(path+".name", "is required")
		case names[p.Name]:
			c.fail(path+".name", "duplicate provider name %q", p.Name)
		}
		names[p.Name] = true
		c.provider(path, p)
	}
	c.router(&cfg.Router, names)

	r := &cfg.Retry
	positive(c, "retry.max_attempts", r.MaxAttempts)
	positive(c, "retry.base_delay", r.BaseDelay)
	positive(c, "retry.max_delay", r.MaxDelay)
	positive(c, "retry.deadline", r.Deadline)
	positive(c, "retry.max_retry_after", r.MaxRetryAfter)
	if r.MaxDelay > 0 && r.MaxDelay < r.BaseDelay {
		c.fail("retry.max_delay", "must not be less than retry.base_delay")
	}
	positive(c, "timeouts.header", cfg.Timeouts.Header)
	positive(c, "timeouts.first_token", cfg.Timeouts.FirstToken)
	positive(c, "timeouts.idle", cfg.Timeouts.Idle)
	positive(c, "timeouts.total", cfg.Timeouts.Total)
	return errors.Join(c.errs...)
}

func (c *checker) provider(path string, p *providerConf) {
	nonEmpty(c, path+".models", p.Models)
	nonEmptyMap(c, path+".model_map", p.ModelMap)
	switch p.Type {
	case typeOpenAI, typeAzure:
		c.baseURL(path+".base_url", p.BaseURL)
		if p.Sim != nil {
			c.fail(path+".sim", "only a provider of type sim takes sim options")
		}
	case typeSim:
		for _, k := range []string{"base_url", "api_key", "headers", "azure"} {
			if c.src.has(path + "." + k) {
				c.fail(path+"."+k, "is not used by a provider of type sim")
			}
		}
		if p.Sim != nil {
			c.sim(path+".sim", p.Sim)
		}
	case "":
		c.fail(path+".type", "is required: openai, azure or sim")
	default:
		c.fail(path+".type", "unknown type %q: want openai, azure or sim", p.Type)
	}
	switch {
	case p.Type == typeAzure && (p.Azure == nil || p.Azure.APIVersion == ""):
		c.fail(path+".azure.api_version", "is required for type azure (e.g. 2024-10-21)")
	case p.Type == typeOpenAI && p.Azure != nil:
		c.fail(path+".azure", "only a provider of type azure takes azure options")
	}
}

// baseURL checks what can be told without a secret in the message; the
// provider checks the rest.
func (c *checker) baseURL(path, s string) {
	if s == "" {
		c.fail(path, "is required")
		return
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		c.fail(path, "must be an absolute http or https URL")
	case u.User != nil || u.RawQuery != "":
		c.fail(path, "must not hold userinfo or a query: put the key in api_key")
	}
}

func (c *checker) sim(path string, s *simConf) {
	notNegative(c, path+".latency", s.Latency)
	notNegative(c, path+".ttft", s.TTFT)
	notNegative(c, path+".tokens_per_second", s.TokensPerSecond)
	positive(c, path+".completion_tokens", s.CompletionTokens)
	if c.src.has(path+".reply") && strings.TrimSpace(s.Reply) == "" {
		c.fail(path+".reply", "has no words")
	}
	f, fp := &s.Faults, path+".faults"
	share(c, fp+".error_rate", f.ErrorRate)
	share(c, fp+".timeout_rate", f.TimeoutRate)
	share(c, fp+".reset_rate", f.ResetRate)
	share(c, fp+".stall_rate", f.StallRate)
	share(c, fp+".cut_rate", f.CutRate)
	notNegative(c, fp+".retry_after", f.RetryAfter)
	notNegative(c, fp+".cut_after", f.CutAfter)
	for i, st := range f.ErrorStatuses {
		if st < 400 || st > 599 {
			c.fail(fmt.Sprintf("%s.error_statuses[%d]", fp, i), "status %d is not in 400..599", st)
		}
	}
}

func (c *checker) router(r *routerConf, providers map[string]bool) {
	var s router.Strategy
	if err := s.UnmarshalText([]byte(r.Strategy)); err != nil {
		c.fail("router.strategy", "unknown strategy %q: want weighted_round_robin, weighted_random, least_in_flight or latency_aware", r.Strategy)
	}
	positive(c, "router.first_token_timeout", r.FirstTokenTimeout)
	positive(c, "router.cooldown", r.Cooldown)
	positive(c, "router.cooldown_ceiling", r.CooldownCeiling)
	positive(c, "router.hint_floor", r.HintFloor)
	if c.src.has("router.budget.ratio") && !(r.Budget.Ratio > 0 && r.Budget.Ratio <= 1) {
		c.fail("router.budget.ratio", "must be in (0, 1]")
	}
	positive(c, "router.budget.min_retries", r.Budget.MinRetries)
	positive(c, "router.budget.window", r.Budget.Window)
	if r.Budget.Window > 0 && r.Budget.Window < time.Millisecond {
		c.fail("router.budget.window", "must be at least 1ms")
	}

	names := map[string]bool{}
	for i := range r.Targets {
		t := &r.Targets[i]
		path := fmt.Sprintf("router.targets[%d]", i)
		switch {
		case t.Provider == "":
			c.fail(path+".provider", "is required: the name of a provider")
		case !providers[t.Provider]:
			c.fail(path+".provider", "unknown provider %q", t.Provider)
		}
		name := t.Name
		if name == "" {
			name = t.Provider
		}
		if names[name] {
			c.fail(path+".name", "duplicate target name %q (give each target of one provider its own name)", name)
		}
		names[name] = true
		if t.Weight != nil && (*t.Weight < 1 || *t.Weight > router.MaxWeight) {
			c.fail(path+".weight", "must be in 1..%d (leave it out for 1)", router.MaxWeight)
		}
		notNegative(c, path+".tier", t.Tier)
		nonEmpty(c, path+".models", t.Models)
		nonEmptyMap(c, path+".model_map", t.ModelMap)
		for k, v := range t.ModelMap {
			if strings.Contains(v, "*") {
				c.fail(path+".model_map."+k, "the model sent cannot hold '*'")
			}
		}
		c.breaker(path+".breaker", &t.Breaker)
	}
}

func (c *checker) breaker(path string, b *breakerConf) {
	positive(c, path+".failure_threshold", b.FailureThreshold)
	if c.src.has(path+".failure_rate_threshold") && !(b.FailureRateThreshold > 0 && b.FailureRateThreshold <= 1) {
		c.fail(path+".failure_rate_threshold", "must be in (0, 1]")
	}
	positive(c, path+".failure_threshold_window", b.FailureThresholdWindow)
	positive(c, path+".failure_threshold_period", b.FailureThresholdPeriod)
	positive(c, path+".min_calls", b.MinCalls)
	positive(c, path+".delay", b.Delay)
	positive(c, path+".half_open_probes", b.HalfOpenProbes)
	positive(c, path+".success_threshold", b.SuccessThreshold)
	probes := b.HalfOpenProbes
	if probes == 0 {
		probes = breaker.DefaultHalfOpenProbes
	}
	if b.SuccessThreshold > probes {
		c.fail(path+".success_threshold", "must not exceed half_open_probes (%d)", probes)
	}
}
