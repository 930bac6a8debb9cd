package config

import (
	"context"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/llmgate/gateway/health"
	"github.com/llmgate/gateway/router"
)

// healthParts is the health section built: the Checker probing the
// targets (nil with health.disable), the readiness of /readyz (routes.go
// serves it, and health.Alive at /healthz), and the transitions counted.
type healthParts struct {
	checker *health.Checker
	ready   *health.Readiness
	targets []health.Target // the Checker's, in force (reloads swap them under Gateway.reloadMu)
	up      atomic.Uint64
	down    atomic.Uint64
}

// start begins the probes (Gateway.Start).
func (h *healthParts) start() {
	if h != nil && h.checker != nil {
		h.checker.Start()
	}
}

// close stops the probes and waits for them.
func (h *healthParts) close() {
	if h != nil && h.checker != nil {
		_ = h.checker.Close()
	}
}

// Drain makes /readyz answer 503 (not ready: shutting_down) from now on,
// on the main listener and the admin one: call it when the server starts
// to shut down, so that load balancers send it nothing new while it
// finishes the calls in flight. Calls are still served; /healthz stays ok.
func (g *Gateway) Drain() {
	if g.health != nil && g.health.ready != nil {
		g.health.ready.Drain()
	}
}

// HealthStats counts the transitions of the targets' active health checks
// since Build: Down, targets marked unhealthy; Up, marked healthy again.
type HealthStats struct {
	Down, Up uint64
}

// HealthStats returns the health checks' transition counts.
func (g *Gateway) HealthStats() HealthStats {
	if g.health == nil {
		return HealthStats{}
	}
	return HealthStats{Down: g.health.down.Load(), Up: g.health.up.Load()}
}

// healthChanged is the Checker's OnChange: one log line per transition of a
// target's health (Warn when it goes down, with the probe's error, which
// holds no key (health.Prober) and is cut to a bounded length; Info when it
// comes back) and its count in HealthStats. It is the one place a
// transition is told: metrics count it here too.
func (g *Gateway) healthChanged(target string, healthy bool, err error) {
	// Logged before counted: whoever reads the count finds the line.
	if m := g.obs.metricsOrNil(); m != nil {
		defer m.HealthChanged(target, healthy)
	}
	if healthy {
		g.logger.Info("health: target healthy again; it takes calls", "target", target)
		g.health.up.Add(1)
		return
	}
	msg := "unknown"
	if err != nil {
		msg = clipLogValue(err.Error())
	}
	g.logger.Warn("health: target unhealthy; calls pass it over", "target", target, "error", msg)
	g.health.down.Add(1)
}

// readinessChecks are the stores the gateway needs to serve, each named by
// its configuration key (never its address): the key store (a PostgreSQL
// one is pinged; a memory one needs nothing) and every Redis client in use.
// The usage sinks are not among them: what they cannot take waits in the
// write-ahead log, and no call fails for it.
func (g *Gateway) readinessChecks() []health.Check {
	var checks []health.Check
	if g.keys != nil {
		checks = append(checks, g.keys.checks...)
	}
	if g.limitRedis != nil {
		checks = append(checks, redisCheck("limits.redis", g.limitRedis))
	}
	if g.billing != nil && g.billing.redis != nil {
		checks = append(checks, redisCheck("billing.budgets.redis", g.billing.redis))
	}
	return checks
}

// redisCheck is a readiness check that PINGs rdb.
func redisCheck(name string, rdb *redis.Client) health.Check {
	return health.Check{Name: name, Fn: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }}
}

// startChecks builds the active health checks of targets (unless
// disabled: then there is no Checker) and gives each target its gate; the
// probes begin at Gateway.Start, so a gateway built only to be checked
// calls no upstream. A sim is never probed, so the embedded default starts
// no goroutine and makes no network call. g.health is set first: the
// Checker tells healthChanged.
func (g *Gateway) startChecks(cfg health.Config, disable bool, targets []router.Target) error {
	g.health = &healthParts{}
	if disable {
		return nil
	}
	cfg.OnChange = g.healthChanged
	cfg.Deferred = true // Start starts the probes
	hts := healthTargets(targets)
	checker, err := health.NewChecker(hts, cfg)
	if err != nil {
		return err
	}
	g.health.checker, g.health.targets = checker, hts
	gate(targets, checker)
	g.probed(nil, hts)
	return nil
}

// probed sets the health gauge of each target next probes that prev did
// not (healthy: a target's gate reads healthy until its probes say
// otherwise, before Start too); the series of targets removed go with
// their breakers' (observe.watchBreakers).
func (g *Gateway) probed(prev, next []health.Target) {
	m := g.obs.metricsOrNil()
	if m == nil {
		return
	}
	was := make(map[string]bool, len(prev))
	for _, t := range prev {
		was[t.Name] = true
	}
	for _, t := range next {
		if !was[t.Name] {
			m.HealthProbed(t.Name, true)
		}
	}
}

// newReadiness builds /readyz over the router, after it: readiness asks
// the router in force for its models at each report (ReadinessConfig.Models
// left nil), so it follows reloads.
func (g *Gateway) newReadiness() error {
	ready, err := health.NewReadiness(g.router, health.ReadinessConfig{Checks: g.readinessChecks(), Clock: g.opts.Clock})
	if err != nil {
		return err
	}
	g.health.ready = ready
	return nil
}

// updateChecks gives the Checker the targets of a reload, and each target
// its gate: a target that stays keeps its health, a new one is probed, a
// removed one is no longer. undo puts the previous targets back, for a
// reload the router refuses after. Without a Checker, nothing.
func (g *Gateway) updateChecks(targets []router.Target) (undo func(), err error) {
	h := g.health
	if h == nil || h.checker == nil {
		return func() {}, nil
	}
	prev, next := h.targets, healthTargets(targets)
	if err := h.checker.Update(next); err != nil {
		return nil, err
	}
	h.targets = next
	gate(targets, h.checker)
	g.probed(prev, next)
	return func() {
		_ = h.checker.Update(prev) // valid: it was in force
		h.targets = prev
	}, nil
}

// The probes' paths.
const (
	healthzPath = "/healthz"
	readyzPath  = "/readyz"
)
