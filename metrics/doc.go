// Package metrics records what the gateway does as Prometheus metrics, on a
// registry of the caller's choosing (never the global one by default), for
// /metrics and the dashboard in dashboards/llmgate.json.
//
// Per call, through the observer hook (Observe is a gateway.WithObserver
// func, allocation-free once a call's series exist), with the names and
// units of the OpenTelemetry GenAI semantic conventions, exposed the
// Prometheus way:
//
//	gen_ai_client_operation_duration_seconds             histogram  gen_ai_operation_name, gen_ai_provider_name, gen_ai_request_model, gen_ai_response_model, error_type
//	gen_ai_client_operation_time_to_first_chunk_seconds  histogram  (the same, without error_type; streams only)
//	gen_ai_client_token_usage                            histogram  (the same, with gen_ai_token_type input|output)
//
// and the gateway's own: llmgate_calls_total (outcome: ok, error, refused,
// cache_hit, canceled; status), llmgate_attempts_total (target, outcome),
// llmgate_retries_total, llmgate_fallbacks_total and llmgate_hedges_total
// (by target, derived from the Call's attempts), llmgate_response_cache_total
// (hit, shared, miss). gen_ai_provider_name is the target's name ("none"
// for a call no provider answered): name targets after their provider
// ("openai", "anthropic") to match the conventions' values.
//
// Read from each component's Stats at scrape time (the Watch methods; each
// replaces what it watched, nil forgets it, so a reload watches the
// rebuilt component): the limiter's admits and refusals by rule
// (llmgate_limiter_admitted_total{rule} counts a call on every rule that
// applied to it, so the rules' sum is not the calls'), the billing Meter's
// records and budget refusals, the usage Pipeline's depth, spills, drops
// and sink errors, the metadata cache's fresh hits, Bloom rejections and
// loads, the response cache's size, each target's breaker state, cooldown
// and cooldowns. Cost is counted by CostRecorder, between the Meter and its
// Pipeline; reloads and health-check transitions by Reloaded and
// HealthChanged; breaker transitions by BreakerStateChanged.
//
// Budget remaining (WatchBudgets): llmgate_budget_limit_usd and
// llmgate_budget_remaining_usd by tenant, for the tenant budgets the
// Meter's configuration names (never per key: key ids are not labels),
// read from the budget store at each scrape for the current period, in one
// read bounded by a second; a failed read is counted in
// llmgate_budget_read_errors_total and the scrape shows the limits alone.
//
// Every label is bounded: a model is labelled only when configured
// (Config.Models; the rest are "other"), a tenant only when asked
// (Config.Tenants), targets and error codes up to fixed bounds, and no key
// id, call id or caller-invented string is ever a label value.
//
// # Wiring it into the main job
//
//	m, err := metrics.New(metrics.Config{Models: cfg.ModelNames(), Clock: clk})
//	if err != nil { … }
//	meter, err := billing.NewMeter(m.CostRecorder(pipeline), meterCfg)
//	m.WatchPipeline(pipeline)
//	m.WatchMeter(meter)
//	m.WatchBudgets(meter) // its tenants' budgets (BudgetConfig.Tenants)
//	m.WatchLimiter(lim)
//	m.WatchCache("keys", keyCache)
//	m.WatchResponseCache("responses", rc)
//	for _, t := range targets { // and again after each reload
//		m.WatchBreaker(t.Name, t.Breaker) // its breaker.Config.OnStateChange: m.BreakerStateChanged(t.Name)
//	}
//	h := gateway.NewHandler(chain, gateway.WithObserver(m.Observe), gateway.WithClock(clk))
//	mux.Handle("/v1/", h)
//	mux.Handle("GET /metrics", m.Handler())
//	// on reload: m.Reloaded(err); m.SetModels(newModels)
//	// on a health check's change: m.HealthChanged(target, healthy)
package metrics
