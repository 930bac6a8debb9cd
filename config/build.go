package config

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/limiter"
	"github.com/llmgate/gateway/provider"
	"github.com/llmgate/gateway/router"
)

// routerName names the router in its errors.
const routerName = "llmgate"

// build checks a parsed config and turns it into the gateway, in the
// design's default order (outermost first):
//
//	routes                    /healthz, the metrics at metrics.path (no key), the admin API; the rest below
//	tracing.Handler           (with tracing) the caller's traceparent, read before the guard answers
//	cache.AuthGuard           (with a keys section) a request with no valid key gets its 401 before its body is read
//	gateway.NewHandler        parse the call once; errors as OpenAI JSON; the access log, then the metrics, observe each call
//	  tracing.Middleware      (with tracing) the call span
//	  cache.Auth              virtual key -> the Call's Caller (with a keys section)
//	  limiter                 the limits section's rules not keyed on target (limits.rules)
//	  cache.ResponseCache     when response_cache.enable: kept answers, identical calls in flight share one
//	  billing.Meter           budget holds; one usage record per attempt when the call ends (cost counted on its way to the pipeline)
//	  breaker.Retry           backoff, Retry-After up to max_wait, deadline, shared budget
//	    router.Router         tiers, weights, fallback, a short wait for a cooling target
//	      per target: CircuitBreaker (429 cooldowns; transitions counted),
//	        limiter.Target    the rules keyed on target: the provider account's own RPM/TPM
//	        Hedge             a second try of an attempt slower than the target's learned p99
//	        Timeouts
//	        tracing.Attempt   (with tracing) the attempt span
//	          Provider        openai, azure, anthropic, gemini or sim (with tracing, its transport sends the trace upstream)
//
// Hedge sits inside each target, so that it learns that target's latency
// and its clock starts when an attempt is sent, not while the router waits
// for a cooling target.
//
// One retry budget is shared by Retry, Hedge and the router, so retries,
// hedges and fallbacks together stay near (1+ratio) attempts per call when
// everything fails; Retry and the router share one idempotency rule and one
// max_wait. Every section is checked, whatever the others hold, and every
// mistake is reported at once: a configError at its key for each (see
// checker).
func build(cfg *File, opts Options) (*Gateway, error) {
	logger := opts.logger()
	c := newChecker(&cfg.src)
	c.usageFile = cmp.Or(opts.UsageFile, c.usageFile)
	c.clock = opts.Clock
	a := &Gateway{cfg: cfg, logger: logger, opts: opts}
	c.top(cfg)
	c.logging(cfg.Logging)
	a.obs = c.observe(cfg, opts)
	c.admin(cfg.Admin)
	healthCfg := c.healthConfig(cfg.Health)
	budget, err := breaker.NewBudget(c.budgetConfig(cfg.Router.Budget))
	c.lib("router.budget", err)
	a.budget = budget
	byName, _, _ := a.newProviders(c, cfg.Providers, nil)
	c.reserveAnthropicBound(cfg)
	lim, rdb := c.rateLimits(&cfg.Limits.Rate)
	a.limiter = lim
	if rdb != nil {
		a.limitRedis = rdb
	}
	timeouts, err := breaker.Timeouts(c.timeoutConfig(cfg.Timeouts))
	c.lib("timeouts", err)
	var hedge *breaker.HedgeConfig // one Hedge per target, gated by its breaker
	if !cfg.Hedge.Disable {
		hc := c.hedgeConfig(cfg.Hedge, budget)
		if c.lib("hedge", hc.Validate()) {
			hedge = &hc
		}
	}
	targets, kept, hedges := newTargets(c, cfg, byName, hedge, timeouts, lim, nil, nil)
	a.breakers, a.hedges = kept, hedges
	retryCfg := c.retryConfig(cfg.Retry, budget)
	retry, err := breaker.Retry(retryCfg)
	c.lib("retry", err)
	rc := c.routerConfig(&cfg.Router, budget, retryCfg.MaxWait, retryCfg.Idempotent)
	c.lib("router", rc.Validate())
	a.billing = c.newBilling(&cfg.Billing)
	limits := c.limits(cfg.Limits)
	c.lib("limits", limits.Validate())
	a.keys = c.keys(cfg.Keys)
	respCache, respOpts, respStats := c.responseCache(cfg.ResponseCache)
	if err := c.err(); err != nil {
		a.Close()
		return nil, err
	}
	if err := a.startChecks(healthCfg, cfg.Health.Disable, targets); err != nil { // checked above
		a.Close()
		return nil, err
	}
	if a.router, err = router.New(routerName, targets, rc); err != nil {
		a.Close()
		c.lib("router", err) // what only the whole router finds, each of its errors
		return nil, c.err()
	}
	if err := a.newReadiness(); err != nil { // not expected: its checks are the gateway's own
		a.Close()
		return nil, err
	}
	a.respCache, a.respOpts = respCache, respOpts
	if a.keys != nil && a.keys.adminAPI != nil {
		a.admin = adminLog(logger, a.keys.adminAPI)
	}
	a.obs.watch(a, respStats)
	a.swap(retry)
	a.serve = a.newHandler(limits)
	return a, nil
}

// swap puts the chain in front of the router, with retry, in place of the
// one in force: calls in flight finish on the chain they started with. The
// handler in front of it (newHandler) is built once, so that what it
// bounds over all calls (the request-body bytes held at once) covers the
// calls of every chain.
//
// Auth first, the limiter (a kept answer still counts against the caller's
// limits), the response cache (it scopes answers by tenant) before the
// Meter: a served answer holds no budget and makes no usage record.
func (a *Gateway) swap(retry gateway.Middleware) {
	var limit gateway.Middleware // nil, skipped by Chain, without rate-limit rules
	if a.limiter != nil {
		limit = a.limiter.Middleware()
	}
	var auth gateway.Middleware // nil, skipped by Chain, without a keys section
	if a.keys != nil {
		auth = a.keys.auth
	}
	mws := append([]gateway.Middleware{a.obs.callSpan(), auth, limit, a.respCache}, a.billing.mws...)
	rt := gateway.Chain(a.router, append(mws, retry)...)
	a.chain.Store(&rt)
}

// newHandler is the gateway's whole URL space over the chain in force,
// built once by Build: the entry point (its body limits are Build's), the
// key guard, the caller's trace, the routes.
func (a *Gateway) newHandler(limits gateway.Limits) http.Handler {
	inForce := gateway.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
		return (*a.chain.Load()).RoundTrip(r)
	})
	h := gateway.NewHandler(inForce,
		append(a.respOpts, gateway.WithLimits(limits), gateway.WithObserver(accessLogger(a.logger)), a.obs.observer())...)
	if a.keys != nil {
		h = a.keys.guard(h) // a caller with no key gets its 401 before its body is read
	}
	h = a.obs.inbound(h) // the caller's trace, read before the guard answers
	return routes(h, a.admin, a.pages())
}

// newProviders builds the providers that pass every check and returns them
// by name (the first of a name); each mistake is reported at its provider.
// On a reload, running is the gateway in force: a provider configured
// exactly as one of its providers is that provider, kept (the one built to
// check the entry is dropped, before it opened any connection), so that
// its pool of upstream connections stays open; kept holds the indices in
// running.providers of those kept, fresh the providers built anew (which a
// refused reload closes). Build passes nil.
func (a *Gateway) newProviders(c *checker, ps []providerConf, running *Gateway) (byName map[string]gateway.Provider, kept map[int]bool, fresh []gateway.Provider) {
	byName, kept = map[string]gateway.Provider{}, map[int]bool{}
	names := map[string]bool{}
	for i := range ps {
		path := fmt.Sprintf("providers[%d]", i)
		p := newProvider(c, path, &ps[i], c.provider(path, &ps[i], names))
		if p == nil {
			continue
		}
		if j := running.sameProvider(&ps[i], kept); j >= 0 {
			p, kept[j] = running.providers[j], true
		} else {
			fresh = append(fresh, p)
		}
		a.providers = append(a.providers, p)
		a.provConfs = append(a.provConfs, cloneProviderConf(&ps[i]))
		if _, dup := byName[ps[i].Name]; !dup {
			byName[ps[i].Name] = p
		}
	}
	return byName, kept, fresh
}

// cloneProviderConf copies p deeply: the entry a provider was built from
// stays as it was when the caller edits its File's maps and slices.
func cloneProviderConf(p *providerConf) providerConf {
	c := *p
	c.Headers, c.ModelMap, c.Models = maps.Clone(p.Headers), maps.Clone(p.ModelMap), slices.Clone(p.Models)
	if p.Azure != nil {
		a := *p.Azure
		a.Deployments = maps.Clone(a.Deployments)
		c.Azure = &a
	}
	if p.Sim != nil {
		s := *p.Sim
		s.Faults.ErrorStatuses = slices.Clone(s.Faults.ErrorStatuses)
		c.Sim = &s
	}
	if p.Anthropic != nil {
		a := *p.Anthropic
		a.Beta = slices.Clone(a.Beta)
		c.Anthropic = &a
	}
	return c
}

// sameProvider returns the index of a provider of g configured as conf and
// not in taken, or -1 (none, or g nil).
func (g *Gateway) sameProvider(conf *providerConf, taken map[int]bool) int {
	if g == nil {
		return -1
	}
	for j := range g.provConfs {
		if !taken[j] && g.provConfs[j].Name == conf.Name && reflect.DeepEqual(&g.provConfs[j], conf) {
			return j
		}
	}
	return -1
}

// newProvider checks what the provider's library checks, whatever the
// schema found (buildable: named, of a known type, with what its type
// requires), and builds it when everything passed; otherwise it returns nil,
// every mistake reported: a sim's faults at its sim.faults, the rest of a
// sim at path, an openai or azure provider's at each part's key.
func newProvider(c *checker, path string, p *providerConf, buildable bool) gateway.Provider {
	switch p.Type {
	case typeOpenAI, typeAzure:
		if !c.openAIParts(path, p) || !buildable {
			return nil
		}
		oc := openAIConfig(p)
		oc.Transport = c.obs.transport()
		o, err := provider.NewOpenAI(oc)
		if !c.lib(path, err) { // a rule no single part broke
			return nil
		}
		return o
	case typeAnthropic:
		return newAnthropic(c, path, p, buildable)
	case typeGemini:
		return c.newGemini(path, p, buildable)
	case typeSim:
	default:
		return nil // which rules apply is unknown
	}
	cfg := c.simConfig(path, p)
	faults := cfg.Faults
	faultsOK := c.lib(path+".sim.faults", faults.Validate())
	cfg.Faults = gatewaytest.Faults{} // reported apart; the rest is checked here
	if !c.lib(path, cfg.Validate()) || !faultsOK || !buildable {
		return nil
	}
	cfg.Faults = faults
	return gatewaytest.MustNewSim(p.Name, cfg)
}

// newTargets returns the router's targets: router.targets, or one per
// provider (weight 1, tier 0) when there is none. Each target is checked by
// the router on its own, so that every target's mistake is reported at its
// key, not only the first one router.New finds.
//
// A target whose name and breaker settings are those of one in kept keeps
// that one's breaker, and its state; one whose name and hedge settings are
// those of one in keptHedges keeps the latency its Hedge learned. The
// breakers and hedge latencies of the targets returned come back with them.
func newTargets(c *checker, cfg *File, byName map[string]gateway.Provider, hedge *breaker.HedgeConfig, timeouts gateway.Middleware,
	lim *limiter.Limiter, kept map[string]keptBreaker, keptHedges map[string]keptHedge) ([]router.Target, map[string]keptBreaker, map[string]keptHedge) {
	known := map[string]bool{}
	for _, p := range cfg.Providers {
		known[p.Name] = true
	}
	tcs, written := cfg.Router.Targets, len(cfg.Router.Targets) > 0
	if !written {
		for _, p := range cfg.Providers {
			tcs = append(tcs, targetConf{Provider: p.Name})
		}
	}
	names := map[string]bool{}
	var out []router.Target
	breakers, hedges := map[string]keptBreaker{}, map[string]keptHedge{}
	for i := range tcs {
		tc, path := &tcs[i], fmt.Sprintf("router.targets[%d]", i)
		if written {
			c.target(path, tc, known, names)
		}
		t := router.Target{Name: cmp.Or(tc.Name, tc.Provider), Provider: byName[tc.Provider],
			Weight: cmp.Or(positive(c, path+".weight", tc.Weight), 1), Tier: tc.Tier, Models: tc.Models, ModelMap: tc.ModelMap}
		cb := kept[t.Name].reuse(tc.Breaker)
		if cb == nil {
			var err error
			cb, err = breaker.NewCircuitBreaker(t.Name, c.obs.breaker(t.Name, c.breakerConfig(path+".breaker", tc.Breaker)))
			c.lib(path+".breaker", err)
		}
		if t.Provider == nil { // an unknown provider, or one that failed: reported
			// The rest of the target is still checked, by the router's rules.
			probe := t
			probe.Provider = unbuilt{}
			c.lib(path, probe.Validate())
			continue
		}
		if !c.lib(path, t.Validate()) {
			continue
		}
		t.Breaker, t.Middlewares = cb, []gateway.Middleware{timeouts}
		if hedge != nil && cb != nil {
			hc := *hedge
			hc.Gate = cb.Ready // no hedge while the target cools down after a 429
			hc.Latency = keptHedges[t.Name].reuse(cfg.Hedge)
			h, _ := breaker.Hedge(hc) // validated above
			t.Middlewares = []gateway.Middleware{h, timeouts}
			hedges[t.Name] = keptHedge{conf: cfg.Hedge, lat: hc.Latency}
		}
		if mw := targetLimit(lim, t.Name); mw != nil {
			t.Middlewares = append([]gateway.Middleware{mw}, t.Middlewares...)
		}
		t.Middlewares = c.obs.targetMiddlewares(t.Middlewares)
		out = append(out, t)
		breakers[t.Name] = keptBreaker{conf: tc.Breaker, cb: cb}
	}
	return out, breakers, hedges
}

// keptBreaker is a target's breaker and the settings it was made with.
type keptBreaker struct {
	conf breakerConf
	cb   *breaker.CircuitBreaker
}

// reuse is k's breaker when it was made with conf; nil otherwise.
func (k keptBreaker) reuse(conf breakerConf) *breaker.CircuitBreaker {
	if k.cb == nil || k.conf != conf {
		return nil
	}
	return k.cb
}

// unbuilt stands in for a provider that could not be built, so that the
// target naming it is still checked; it is never served.
type unbuilt struct{}

func (unbuilt) Name() string { return "unbuilt" }

func (unbuilt) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, gateway.ErrInternal
}
