package config

import (
	"context"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/health"
	"github.com/llmgate/gateway/router"
)

// healthConf is the health section: the active health checks of the
// router's targets (health.Config). Every target whose provider can check
// itself (openai, azure, anthropic, gemini: a model-list request, no
// tokens) is probed; a sim is never probed.
type healthConf struct {
	// Disable turns the checks off: targets are guarded by their breakers
	// alone.
	Disable  bool          `yaml:"disable"`
	Interval time.Duration `yaml:"interval"` // between probes of a target; default 10s
	// Jitter spreads the probes by ± this share of interval; default 0.1.
	Jitter float64 `yaml:"jitter"`
	// Timeout bounds each probe; at most interval. Default 5s.
	Timeout   time.Duration `yaml:"timeout"`
	FailAfter int           `yaml:"fail_after"` // failed probes in a row that mark a target down; default 3
	PassAfter int           `yaml:"pass_after"` // passed probes in a row that mark it up again; default 2
}

// healthConfig is the health section as the Checker's config, each mistake
// reported at its key: the schema's rule for zero here, every other rule
// the health package's, asked one key at a time so that each is blamed on
// its own key.
func (c *checker) healthConfig(h healthConf) health.Config {
	before := len(c.errs)
	cfg := health.Config{
		Interval:           positive(c, "health.interval", h.Interval),
		Jitter:             positive(c, "health.jitter", h.Jitter),
		Timeout:            positive(c, "health.timeout", h.Timeout),
		UnhealthyThreshold: positive(c, "health.fail_after", h.FailAfter),
		HealthyThreshold:   positive(c, "health.pass_after", h.PassAfter),
		Clock:              c.clock,
	}
	c.lib("health.jitter", health.Config{Jitter: cfg.Jitter}.Validate())
	c.lib("health.fail_after", health.Config{UnhealthyThreshold: cfg.UnhealthyThreshold}.Validate())
	c.lib("health.pass_after", health.Config{HealthyThreshold: cfg.HealthyThreshold}.Validate())
	unpair(c, "health.interval", &cfg.Interval, "health.timeout", &cfg.Timeout)
	if len(c.errs) == before { // what is left to find: a timeout longer than the interval
		c.lib("health.timeout", cfg.Validate())
	}
	return cfg
}

// healthTargets are the router's targets as the Checker sees them: each
// one that can check itself is probed through its breaker (politeProber).
func healthTargets(ts []router.Target) []health.Target {
	out := make([]health.Target, len(ts))
	for i, t := range ts {
		out[i] = health.Target{Name: t.Name, Provider: t.Provider}
		if pr, ok := t.Provider.(health.Prober); ok && t.Breaker != nil {
			out[i].Provider = politeProber{Provider: t.Provider, probe: pr, cb: t.Breaker}
		}
	}
	return out
}

// politeProber probes a target unless its breaker is cooling it down after
// a 429 (or a 503 with Retry-After): nothing is sent inside a window the
// upstream asked for, probes included, and such a probe passes, since the
// upstream answered (as router.TargetStatus.CanServe counts a cooldown).
type politeProber struct {
	gateway.Provider
	probe health.Prober
	cb    *breaker.CircuitBreaker
}

func (p politeProber) HealthCheck(ctx context.Context) error {
	if p.cb.Stats().CoolingFor > 0 {
		return nil
	}
	return p.probe.HealthCheck(ctx)
}

// gate gives each target its health gate from checker (nil: no checks, or
// a target that is not probed).
func gate(ts []router.Target, checker *health.Checker) {
	if checker == nil {
		return
	}
	for i := range ts {
		ts[i].Healthy = checker.Healthy(ts[i].Name)
	}
}
