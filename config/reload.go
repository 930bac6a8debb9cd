package config

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
)

// ErrReloadRefused wraps the mistakes of a file Reload refused.
var ErrReloadRefused = errors.New("config: reload refused, the running configuration is kept")

// ErrClosed is the error of Reload and Start once Close has begun: the
// running configuration is the last one, and nothing is built or opened.
var ErrClosed = errors.New("config: the gateway is closed")

// ErrStarted is the error of a second Start: the usage pipeline is open
// already.
var ErrStarted = errors.New("config: the gateway is started already")

// Reload checks f as Build does, every section (keys, billing and the
// others that need a restart included: checked, with no store or
// connection opened), and, when it has no mistake, applies it to the
// running gateway; otherwise it changes nothing and returns every mistake
// (wrapping ErrReloadRefused). It is safe for concurrent use, with itself
// and with the calls being served: no call is dropped, a call in flight
// finishes on the chain it started with, and no count is lost.
//
// What it applies live:
//   - router.targets (and providers): added, removed, reweighted, moved
//     between tiers, their models changed (router.Router.Update: a
//     target's latency, cooldown and breaker are kept by name); a provider
//     whose entry is unchanged is kept, with its open upstream connections,
//     and one whose entry changed is built anew (the old one's idle
//     connections close; its calls in flight finish on theirs);
//   - a target's breaker settings: a target whose settings are unchanged
//     keeps its breaker and its state; changed settings give it a new,
//     closed breaker;
//   - limits.rules (limiter.Limiter.Update: a rule keeps its counts by
//     name);
//   - the targets the health checks probe (health.Checker.Update: a
//     target that stays keeps its health; a new one is probed);
//   - retry but for max_wait and idempotent, which the router shares and
//     keeps from Build; hedge and timeouts (a new chain in front of the same router,
//     budget store, key cache, usage pipeline and limiter); a target keeps
//     the latency its hedge learned while the hedge section is unchanged;
//   - billing.prices_file (read again at each reload) and billing.budgets
//     but for its redis (billing.Meter.Update): the next call is priced,
//     held and settled at the new prices and limits, while a call in
//     flight is recorded and settled at those it held under; every spend
//     is kept, so a tenant past a lowered limit is refused.
//
// Every other difference needs a restart: it is kept as it runs, and
// Reload logs a warning naming each such key (RestartKeys lists them): listen,
// max_conns, shutdown_timeout, logging, keys, billing.sinks,
// billing.spill_dir, billing.pipeline, billing.budgets.redis,
// response_cache, retry.max_wait, retry.idempotent, health (its settings; the targets it probes follow
// router.targets live), admin, metrics (but metrics.models) and tracing,
// the router's settings other than its targets (strategy, budget,
// first_token_timeout, hints), and limits' body bounds (max_body_bytes,
// max_depth, max_messages, max_tokens, max_body_bytes_in_flight: the entry
// point that enforces them is built once, so that the bytes held at once
// are bounded over the calls of every reload), redis, time_zone, max_wait
// and default_max_tokens, or rules added to a gateway built with none (or
// all removed).
//
// Both outcomes are logged, counted (ReloadStats) and told to
// Options.OnReload. Once Close has begun, Reload does nothing and returns
// ErrClosed (neither logged, counted nor told).
func (g *Gateway) Reload(f *File) error {
	err := g.reloadOnce(f)
	if err != ErrClosed {
		g.tell(err)
	}
	return err
}

// reloadOnce applies f, or refuses it, under reloadMu, and logs and counts
// the outcome.
func (g *Gateway) reloadOnce(f *File) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	if g.closed {
		return ErrClosed
	}
	restart, err := g.reload(f)
	if err != nil {
		g.refusedLocked(f.src.file, err)
		return err
	}
	g.reloads.applied.Add(1)
	g.logger.Info("config: reloaded", "file", f.src.file)
	for _, key := range restart {
		g.logger.Warn("config: changed, but needs a restart to apply", "file", f.src.file, "key", key)
	}
	return nil
}

// refuse reports err, why the file at file could not be loaded, as a
// refused reload: logged, counted and told, as Reload's refusals are. After
// Close it does nothing and returns ErrClosed.
func (g *Gateway) refuse(file string, err error) error {
	g.reloadMu.Lock()
	closed := g.closed
	if !closed {
		g.refusedLocked(file, err)
	}
	g.reloadMu.Unlock()
	if closed {
		return ErrClosed
	}
	g.tell(err)
	return err
}

// refusedLocked logs and counts a refused reload of file; reloadMu is held.
func (g *Gateway) refusedLocked(file string, err error) {
	g.reloads.rejected.Add(1)
	g.logger.Error("config: reload refused; the running configuration is kept", "file", file, "error", err)
}

// tell gives a reload's outcome to Options.OnReload, once reloadMu is
// released: OnReload may close the gateway, or reload it again.
func (g *Gateway) tell(err error) {
	if g.opts.OnReload != nil {
		g.opts.OnReload(err)
	}
}

// ReloadStats counts Reload's outcomes since Build.
type ReloadStats struct {
	Applied, Rejected uint64
}

type reloadCounts struct{ applied, rejected atomic.Uint64 }

// ReloadStats returns Reload's counts.
func (g *Gateway) ReloadStats() ReloadStats {
	return ReloadStats{Applied: g.reloads.applied.Load(), Rejected: g.reloads.rejected.Load()}
}

// reload checks f with the gateway's stateful parts in place of new ones
// and applies it; it returns the keys that need a restart.
func (g *Gateway) reload(f *File) ([]string, error) {
	restart := RestartKeys(g.cfg, f)
	c := newChecker(&f.src)
	c.usageFile = cmp.Or(g.opts.UsageFile, c.usageFile)
	c.clock = g.opts.Clock
	c.checkOnly = true // what needs a restart is checked, not opened
	c.top(f)
	c.logging(f.Logging)
	c.admin(f.Admin)
	c.healthConfig(f.Health) // checked; its settings need a restart
	obs := c.reobserve(f, g.obs)
	probe := &Gateway{}
	byName, kept, fresh := probe.newProviders(c, f.Providers, g)
	c.reserveAnthropicBound(f)
	limCfg, hasRules := c.limiterConfig(&f.Limits.Rate, g.limitRedis)
	timeouts, err := breaker.Timeouts(c.timeoutConfig(f.Timeouts))
	c.lib("timeouts", err)
	var hedge *breaker.HedgeConfig
	if !f.Hedge.Disable {
		hc := c.hedgeConfig(f.Hedge, g.budget)
		if c.lib("hedge", hc.Validate()) {
			hedge = &hc
		}
	}
	c.lib("router.budget", c.budgetConfig(f.Router.Budget).Validate())
	targets, keptBreakers, hedges := newTargets(c, f, byName, hedge, timeouts, g.limiter, g.breakers, g.hedges)
	retryCfg := c.retryConfig(f.Retry, g.budget) // checked as written
	// The router keeps the max_wait and idempotency rule it was built with
	// (Router.Update takes targets only), so Retry keeps them too: one rule
	// for both, a change to either needing a restart (RestartKeys).
	running := c.retryConfig(g.cfg.Retry, g.budget)
	retryCfg.MaxWait, retryCfg.Idempotent = running.MaxWait, running.Idempotent
	retry, err := breaker.Retry(retryCfg)
	c.lib("retry", err)
	rc := c.routerConfig(&f.Router, g.budget, retryCfg.MaxWait, retryCfg.Idempotent)
	c.lib("router", rc.Validate())
	c.lib("limits", c.limits(f.Limits).Validate()) // checked; the body bounds need a restart
	meterCfg, keyBudgets := c.liveBilling(&f.Billing)
	c.keys(f.Keys)
	c.responseCache(f.ResponseCache)
	if err := c.err(); err != nil {
		closeIdle(fresh)
		return nil, fmt.Errorf("%w:\n%w", ErrReloadRefused, err)
	}
	// The router checks the whole set before it changes anything (the
	// health checks, changed first so that the targets carry their gates,
	// are put back if it refuses); the limiter's rules were checked above
	// by the same rules as its Update.
	undoChecks, err := g.updateChecks(targets)
	if err != nil {
		closeIdle(fresh)
		return nil, fmt.Errorf("%w:\n%w", ErrReloadRefused, err)
	}
	if err := g.router.Update(targets); err != nil {
		undoChecks()
		closeIdle(fresh)
		return nil, fmt.Errorf("%w:\n%w", ErrReloadRefused, err)
	}
	if g.limiter != nil && hasRules {
		if err := g.limiter.Update(limCfg.Rules); err != nil { // not expected: checked above
			g.logger.Error("config: limits.rules not applied", "error", err)
		}
	}
	if err := g.billing.update(meterCfg, keyBudgets); err != nil { // not expected: checked above
		g.logger.Error("config: billing prices and budgets not applied", "error", err)
	}
	var dropped []gateway.Provider
	for j, p := range g.providers {
		if !kept[j] {
			dropped = append(dropped, p)
		}
	}
	g.providers, g.provConfs, g.breakers, g.hedges = probe.providers, probe.provConfs, keptBreakers, hedges
	obs.apply(keptBreakers)
	g.swap(retry)
	closeIdle(dropped) // calls in flight keep their connections; idle ones go (the kept providers' stay)
	return restart, nil
}

// RestartKeys are the keys whose values differ between a and b and that
// Reload cannot apply to a running gateway (see Reload).
func RestartKeys(a, b *File) []string {
	var keys []string
	differ := func(key string, x, y any) {
		if !reflect.DeepEqual(x, y) {
			keys = append(keys, key)
		}
	}
	differ("listen", a.Listen, b.Listen)
	differ("max_conns", a.MaxConns, b.MaxConns)
	differ("shutdown_timeout", a.ShutdownTimeout, b.ShutdownTimeout)
	differ("logging", a.Logging, b.Logging)
	differ("keys", a.Keys, b.Keys)
	ba, bb := a.Billing, b.Billing
	differ("billing.sinks", ba.Sinks, bb.Sinks)
	differ("billing.spill_dir", ba.SpillDir, bb.SpillDir)
	differ("billing.pipeline", ba.Pipeline, bb.Pipeline)
	differ("billing.budgets.redis", ba.Budgets.Redis, bb.Budgets.Redis)
	differ("response_cache", a.ResponseCache, b.ResponseCache)
	differ("health", a.Health, b.Health) // health.go: the Checker's settings are fixed at Build
	differ("admin", a.Admin, b.Admin)
	differ("retry.max_wait", a.Retry.MaxWait, b.Retry.MaxWait)         // shared with the router, which keeps its own
	differ("retry.idempotent", a.Retry.Idempotent, b.Retry.Idempotent) // likewise
	ra, rb := a.Router, b.Router
	ra.Targets, rb.Targets = nil, nil
	differ("router.budget", ra.Budget, rb.Budget)
	ra.Budget, rb.Budget = budgetConf{}, budgetConf{}
	differ("router", ra, rb)
	bounds := func(l limitsConfig) limitsConfig { l.Rate = rateLimitsConf{}; return l }
	differ("limits (max_body_bytes, max_depth, max_messages, max_tokens, max_body_bytes_in_flight)", bounds(a.Limits), bounds(b.Limits))
	la, lb := a.Limits.Rate, b.Limits.Rate
	differ("limits.redis", la.Redis, lb.Redis)
	differ("limits.time_zone", la.TimeZone, lb.TimeZone)
	differ("limits.max_wait", la.MaxWait, lb.MaxWait)
	differ("limits.default_max_tokens", la.DefaultMaxTokens, lb.DefaultMaxTokens)
	if (len(la.Rules) == 0) != (len(lb.Rules) == 0) {
		keys = append(keys, "limits.rules")
	}
	return append(keys, observeRestartKeys(a, b)...)
}

// closeIdle closes the idle upstream connections of providers no longer
// served.
func closeIdle(ps []gateway.Provider) {
	for _, p := range ps {
		if c, ok := p.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}
}
