// Package health holds active health checks for a router's targets and the
// gateway's /healthz and /readyz answers.
//
// A Checker probes every target whose Provider can check itself (Prober:
// provider.OpenAI, Anthropic and Gemini ask their model list, which costs no
// tokens; the simulator cannot, so it is never probed) on an interval with
// jitter, each probe bounded by a timeout; N failures in a row mark a target
// unhealthy, M successes in a row healthy again, and each transition is
// told once to Config.OnChange. Checker.Healthy gives the router a gate per
// target (router.Target.Healthy), so an unhealthy target is passed over
// before any call fails on it; when every target of a model fails its
// check, the router ignores the checks (see router.Router).
//
// Readiness answers /readyz: ready when every configured model has a target
// that can serve it (breaker not open, check passing: router.Router.Ready)
// and every dependency Check answers; otherwise 503 in the OpenAI error
// shape (ErrNotReady) naming what failed. Alive answers /healthz. Both need
// no auth: mount them outside it.
//
// The intended wiring, in a main job (ExampleNewChecker and
// ExampleNewReadiness run parts of it):
//
//	checker, err := health.NewChecker([]health.Target{{Provider: openai}, {Provider: sim}}, health.Config{
//		OnChange: func(target string, healthy bool, err error) {
//			logger.Warn("target health", "target", target, "healthy", healthy, "err", err) // err holds no key
//			metrics.HealthTransition(target, healthy)
//		},
//	})
//	defer checker.Close()
//	rtr, err := router.New("llm", []router.Target{
//		{Provider: openai, Weight: 1, Healthy: checker.Healthy("openai")},
//		{Provider: sim, Weight: 1, Tier: 1, Healthy: checker.Healthy("sim")}, // nil: not probed
//	}, router.Config{})
//	ready, err := health.NewReadiness(rtr, health.ReadinessConfig{Checks: []health.Check{
//		{Name: "redis", Fn: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }},
//	}})
//	mux.Handle("/healthz", health.Alive()) // before auth
//	mux.Handle("/readyz", ready)
//
// On a reload, call checker.Update with the new targets, then rtr.Update
// with each target's Healthy from checker.Healthy: a target that stays keeps
// its health in both.
package health
