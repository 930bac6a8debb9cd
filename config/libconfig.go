package config

import (
	"cmp"
	"net/http"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/provider"
	"github.com/llmgate/gateway/router"
)

// The sections of the configuration as the libraries' configs. Each applies
// the schema's rule for zero (positive) to the keys whose zero means the
// default, and nothing else: every other check is the library's, made by its
// Validate or its constructor (build).

func (c *checker) limits(l limitsConfig) gateway.Limits {
	return gateway.Limits{
		MaxBodyBytes: positive(c, "limits.max_body_bytes", l.MaxBodyBytes),
		MaxDepth:     positive(c, "limits.max_depth", l.MaxDepth),
		MaxMessages:  positive(c, "limits.max_messages", l.MaxMessages),
		MaxTokens:    positive(c, "limits.max_tokens", l.MaxTokens),

		MaxBodyBytesInFlight: positive(c, "limits.max_body_bytes_in_flight", l.MaxBodyBytesInFlight),
	}
}

func (c *checker) budgetConfig(b budgetConf) breaker.BudgetConfig {
	return breaker.BudgetConfig{
		Ratio:      positive(c, "router.budget.ratio", b.Ratio),
		MinRetries: positive(c, "router.budget.min_retries", b.MinRetries),
		Window:     positive(c, "router.budget.window", b.Window),
	}
}

// routerConfig is the router's config; maxWait and idempotent are the
// retry section's, one rule for retries and fallbacks.
func (c *checker) routerConfig(r *routerConf, budget *breaker.Budget, maxWait time.Duration, idempotent func(*http.Request) bool) router.Config {
	var s router.Strategy
	c.lib("router.strategy", s.UnmarshalText([]byte(r.Strategy)))
	firstToken := positive(c, "router.first_token_timeout", r.FirstTokenTimeout)
	if firstToken == 0 {
		// Every target's chain has breaker.Timeouts, whose FirstToken
		// (timeouts.first_token) bounds each attempt: one owner, not a
		// second context and deadline on every stream.
		firstToken = router.NoFirstTokenTimeout
	}
	return router.Config{
		Strategy:          s,
		Budget:            budget,
		FirstTokenTimeout: firstToken,
		HintFloor:         positive(c, "router.hint_floor", r.HintFloor),
		DisableHints:      r.DisableHints,
		MaxWait:           maxWait,
		Idempotent:        idempotent,
		Clock:             c.clock,
	}
}

func (c *checker) breakerConfig(path string, b breakerConf) breaker.Config {
	cfg := breaker.Config{
		FailureThreshold:       positive(c, path+".failure_threshold", b.FailureThreshold),
		FailureRateThreshold:   positive(c, path+".failure_rate_threshold", b.FailureRateThreshold),
		FailureThresholdWindow: positive(c, path+".failure_threshold_window", b.FailureThresholdWindow),
		FailureThresholdPeriod: positive(c, path+".failure_threshold_period", b.FailureThresholdPeriod),
		MinCalls:               positive(c, path+".min_calls", b.MinCalls),
		Delay:                  positive(c, path+".delay", b.Delay),
		HalfOpenProbes:         positive(c, path+".half_open_probes", b.HalfOpenProbes),
		SuccessThreshold:       positive(c, path+".success_threshold", b.SuccessThreshold),
		Cooldown:               positive(c, path+".cooldown", b.Cooldown),
		MaxRetryAfter:          positive(c, path+".max_retry_after", b.MaxRetryAfter),
		Clock:                  c.clock,
	}
	unpair(c, path+".success_threshold", &cfg.SuccessThreshold, path+".half_open_probes", &cfg.HalfOpenProbes)
	return cfg
}

func (c *checker) retryConfig(r retryConf, budget *breaker.Budget) breaker.RetryConfig {
	cfg := breaker.RetryConfig{
		MaxAttempts: positive(c, "retry.max_attempts", r.MaxAttempts),
		BaseDelay:   positive(c, "retry.base_delay", r.BaseDelay),
		MaxDelay:    positive(c, "retry.max_delay", r.MaxDelay),
		Deadline:    positive(c, "retry.deadline", r.Deadline),
		MaxWait:     positive(c, "retry.max_wait", r.MaxWait),
		Idempotent:  c.idempotent(r.Idempotent),
		Budget:      budget,
	}
	unpair(c, "retry.base_delay", &cfg.BaseDelay, "retry.max_delay", &cfg.MaxDelay)
	return cfg
}

// idempotent is retry.idempotent as the rule Retry and the router share;
// nil means the library's default (model calls may be sent again).
func (c *checker) idempotent(v string) func(*http.Request) bool {
	switch v {
	case "", "model_calls":
		return nil
	case "idempotency_key":
		return func(r *http.Request) bool {
			return r.Header.Get("Idempotency-Key") != "" || r.Header.Get("X-Idempotency-Key") != ""
		}
	case "none":
		return func(*http.Request) bool { return false }
	}
	c.fail("retry.idempotent", "unknown value %q (want model_calls, idempotency_key or none)", v)
	return nil
}

func (c *checker) hedgeConfig(h hedgeConf, budget *breaker.Budget) breaker.HedgeConfig {
	pct := positive(c, "hedge.percentile", h.Percentile)
	if pct >= 1 {
		c.fail("hedge.percentile", "must be below 1 (0.99 hedges the slowest 1%% of attempts)")
		pct = 0
	}
	if pct == 0 {
		pct = defaultHedgePercentile
	}
	cutAfter := cmp.Or(positive(c, "hedge.cut_after", h.CutAfter), defaultHedgeCutAfter)
	if h.NoCut {
		cutAfter = 0
	}
	return breaker.HedgeConfig{
		Percentile: pct,
		MinDelay:   positive(c, "hedge.min_delay", h.MinDelay),
		Delay:      positive(c, "hedge.delay", h.Delay),
		MaxHedges:  cmp.Or(positive(c, "hedge.max_hedges", h.MaxHedges), defaultMaxHedges),
		CutAfter:   cutAfter,
		Budget:     budget,
	}
}

func (c *checker) timeoutConfig(t timeoutsConf) breaker.TimeoutConfig {
	return breaker.TimeoutConfig{
		Header:     positive(c, "timeouts.header", t.Header),
		FirstToken: positive(c, "timeouts.first_token", t.FirstToken),
		Idle:       positive(c, "timeouts.idle", t.Idle),
		Total:      positive(c, "timeouts.total", t.Total),
	}
}

// simConfig is a provider of type sim; its models come from the provider's
// models.
func (c *checker) simConfig(path string, p *providerConf) gatewaytest.SimConfig {
	s := p.Sim
	if s == nil {
		s = &simConf{}
	}
	f := s.Faults
	return gatewaytest.SimConfig{
		Models: p.Models, Latency: s.Latency, TTFT: s.TTFT, TokensPerSecond: s.TokensPerSecond,
		CompletionTokens: positive(c, path+".sim.completion_tokens", s.CompletionTokens),
		Reply:            s.Reply, Seed: s.Seed,
		Faults: gatewaytest.Faults{ErrorRate: f.ErrorRate, ErrorStatuses: f.ErrorStatuses, RetryAfter: f.RetryAfter,
			TimeoutRate: f.TimeoutRate, ResetRate: f.ResetRate, StallRate: f.StallRate, CutRate: f.CutRate, CutAfter: f.CutAfter},
	}
}

// openAIConfig is a provider of type openai or azure.
func openAIConfig(p *providerConf) provider.OpenAIConfig {
	oc := provider.OpenAIConfig{Name: p.Name, BaseURL: p.BaseURL, APIKey: p.APIKey, Headers: p.Headers,
		Models: p.Models, ModelMap: p.ModelMap, VerbatimErrors: p.VerbatimErrors}
	if p.Type == typeAzure {
		oc.Azure = &provider.AzureConfig{APIVersion: p.Azure.APIVersion, Deployments: p.Azure.Deployments}
	}
	return oc
}
