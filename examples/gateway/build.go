package main

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/provider"
	"github.com/llmgate/gateway/router"
)

// app is a built gateway: the handler to serve, and what to release when
// the server has stopped.
type app struct {
	handler   http.Handler
	router    *router.Router
	providers []gateway.Provider
}

// Close releases the providers' idle upstream connections. Call it after
// the server has stopped.
func (a *app) Close() {
	for _, p := range a.providers {
		if c, ok := p.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}
}

// build turns a validated config into the gateway, in the design's default
// order (outermost first):
//
//	gateway.NewHandler        parse the call once; errors as OpenAI JSON
//	  captureCall             hands the Call to the access log
//	  breaker.Retry           backoff, Retry-After, deadline, shared budget
//	    router.Router       tiers, weights, cooldowns, fallback
//	      per target: CircuitBreaker, Timeouts
//	        Provider          openai, azure or sim
//
// One retry budget is shared by Retry and the router, so retries and
// fallbacks together stay near (1+ratio) attempts per call when everything
// fails. Errors are configErrors naming the key at fault.
func build(cfg *config, logger *slog.Logger) (_ *app, err error) {
	src := &cfg.src
	a := &app{}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	var budget *breaker.Budget
	err = guard(src, "router.budget", func() error {
		// The router's own floor (not breaker's 3), since the router shares
		// this budget: a cold gateway survives a target dying.
		b := cfg.Router.Budget
		budget = breaker.NewBudget(breaker.BudgetConfig{Ratio: b.Ratio,
			MinRetries: cmp.Or(b.MinRetries, router.DefaultRouterMinRetries), Window: b.Window})
		return nil
	})
	if err != nil {
		return nil, err
	}
	byName := map[string]gateway.Provider{}
	for i := range cfg.Providers {
		var p gateway.Provider
		err = guard(src, fmt.Sprintf("providers[%d]", i), func() (err error) {
			p, err = newProvider(&cfg.Providers[i])
			return err
		})
		if err != nil {
			return nil, err
		}
		a.providers = append(a.providers, p)
		byName[cfg.Providers[i].Name] = p
	}
	var timeouts gateway.Middleware
	err = guard(src, "timeouts", func() error {
		t := cfg.Timeouts
		timeouts = breaker.Timeouts(breaker.TimeoutConfig{Header: t.Header, FirstToken: t.FirstToken, Idle: t.Idle, Total: t.Total})
		return nil
	})
	if err != nil {
		return nil, err
	}
	targets := cfg.Router.Targets
	if len(targets) == 0 { // every provider, weight 1, tier 0
		for _, p := range cfg.Providers {
			targets = append(targets, targetConf{Provider: p.Name})
		}
	}
	rts := make([]router.Target, len(targets))
	for i, t := range targets {
		name := cmp.Or(t.Name, t.Provider)
		weight := 1
		if t.Weight != nil {
			weight = *t.Weight
		}
		rts[i] = router.Target{Name: name, Provider: byName[t.Provider], Weight: weight, Tier: t.Tier,
			Models: t.Models, ModelMap: t.ModelMap, Middlewares: []gateway.Middleware{timeouts}}
		err = guard(src, fmt.Sprintf("router.targets[%d].breaker", i), func() error {
			rts[i].Breaker = breaker.NewCircuitBreaker(name, breakerConfig(t.Breaker))
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	err = guard(src, "router", func() (err error) {
		r := cfg.Router
		var strategy router.Strategy
		if err := strategy.UnmarshalText([]byte(r.Strategy)); err != nil {
			return err
		}
		a.router, err = router.New("llmgate", rts, router.Config{
			Strategy: strategy, Budget: budget, FirstTokenTimeout: r.FirstTokenTimeout,
			Cooldown: r.Cooldown, CooldownCeiling: r.CooldownCeiling, HintFloor: r.HintFloor, DisableHints: r.DisableHints,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	var retry gateway.Middleware
	err = guard(src, "retry", func() error {
		r := cfg.Retry
		retry = breaker.Retry(breaker.RetryConfig{MaxAttempts: r.MaxAttempts, BaseDelay: r.BaseDelay, MaxDelay: r.MaxDelay,
			Deadline: r.Deadline, MaxRetryAfter: r.MaxRetryAfter, Budget: budget})
		return nil
	})
	if err != nil {
		return nil, err
	}
	var h http.Handler
	err = guard(src, "limits", func() error {
		l := cfg.Limits
		h = gateway.NewHandler(gateway.Chain(a.router, captureCall, retry),
			gateway.WithLimits(gateway.Limits{MaxBodyBytes: l.MaxBodyBytes, MaxDepth: l.MaxDepth, MaxMessages: l.MaxMessages, MaxTokens: l.MaxTokens}),
			gateway.WithLogger(logger))
		return nil
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", h)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	a.handler = accessLog(mux, logger)
	return a, nil
}

// guard runs f, which calls library constructors, and turns what they
// report (an error, or a panic, how some report an invalid config) into a
// configError at path.
func guard(src *source, path string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = src.errorf(path, "%v", r)
		}
	}()
	if err := f(); err != nil {
		return src.errorf(path, "%v", err)
	}
	return nil
}

func newProvider(p *providerConf) (gateway.Provider, error) {
	if p.Type == typeSim {
		s := p.Sim
		if s == nil {
			s = &simConf{}
		}
		f := s.Faults
		return gatewaytest.NewSim(p.Name, gatewaytest.SimConfig{
			Models: p.Models, Latency: s.Latency, TTFT: s.TTFT, TokensPerSecond: s.TokensPerSecond,
			CompletionTokens: s.CompletionTokens, Reply: s.Reply, Seed: s.Seed,
			Faults: gatewaytest.Faults{ErrorRate: f.ErrorRate, ErrorStatuses: f.ErrorStatuses, RetryAfter: f.RetryAfter,
				TimeoutRate: f.TimeoutRate, ResetRate: f.ResetRate, StallRate: f.StallRate, CutRate: f.CutRate, CutAfter: f.CutAfter},
		}), nil
	}
	oc := provider.OpenAIConfig{Name: p.Name, BaseURL: p.BaseURL, APIKey: p.APIKey, Headers: p.Headers,
		Models: p.Models, ModelMap: p.ModelMap}
	if p.Type == typeAzure {
		oc.Azure = &provider.AzureConfig{APIVersion: p.Azure.APIVersion, Deployments: p.Azure.Deployments}
	}
	return provider.NewOpenAI(oc)
}

func breakerConfig(b breakerConf) breaker.Config {
	return breaker.Config{
		FailureThreshold: b.FailureThreshold, FailureRateThreshold: b.FailureRateThreshold,
		FailureThresholdWindow: b.FailureThresholdWindow, FailureThresholdPeriod: b.FailureThresholdPeriod,
		MinCalls: b.MinCalls, Delay: b.Delay, HalfOpenProbes: b.HalfOpenProbes, SuccessThreshold: b.SuccessThreshold,
	}
}
