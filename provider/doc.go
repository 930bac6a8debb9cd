// Package provider holds the model backends of the gateway: adapters for
// OpenAI-compatible APIs and other vendors, the simulator Sim, and the
// router, a Provider made of Providers. Each is a gateway.Provider, an
// http.RoundTripper that speaks the OpenAI wire format, so any of them can
// sit at the bottom of a middleware chain or behind gateway.NewHandler.
//
// Sim is an in-process simulated model: deterministic replies, usage
// reports, latency and token pacing on an injectable clock, and faults
// drawn from a seeded PRNG (error statuses with Retry-After, hangs,
// connection resets, stalled and cut streams). It is the provider of tests
// and benchmarks and the embedded default of the main job:
//
//	sim := gatewaytest.MustNewSim("sim-a", gatewaytest.SimConfig{
//		Models: []string{"gpt-4o-mini"},
//		Faults: gatewaytest.Faults{ErrorRate: 0.05, ErrorStatuses: []int{429, 503}},
//		Seed:   1,
//	})
//	client := gateway.NewClient(sim) // an *http.Client for any OpenAI SDK
//	resp, err := client.Post("http://sim.invalid/v1/chat/completions", "application/json",
//		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
//
// OpenAI (NewOpenAI) adapts any OpenAI-compatible upstream: OpenAI, Azure
// OpenAI (AzureConfig), DeepSeek, vLLM, Ollama. It builds every upstream
// request from its configuration alone (BaseURL plus the operation's path,
// its own key and headers, never the caller's), renames models (ModelMap),
// forces stream usage on so every call is metered, passes streams through
// unbuffered, and never follows redirects.
//
// Router is a Provider made of Providers. Each Target (a Provider with a
// weight, a tier, the models it serves and renames, a circuit breaker and
// its own middlewares) takes a share of its tier's traffic by Strategy:
// smooth weighted round-robin (default), weighted random, least in flight,
// or latency-aware. A call that fails in a way another target may not (5xx,
// reset, timeout, 429, a dead key, a stream that breaks or stalls before its
// first token) moves to the next eligible target, bounded by the targets,
// the retry Budget and the caller's deadline; a 429 puts the target in
// cooldown for its Retry-After, and rate-limit headers steer calls away
// before it. Update swaps targets and weights atomically (a canary is a
// weight); /v1/models lists the union of the targets' models.
//
//	router, err := router.New("llm", []router.Target{
//		{Provider: openai, Weight: 95, Models: []string{"gpt-4.1"}},
//		{Provider: canary, Weight: 5, Models: []string{"gpt-4.1"}},
//		{Provider: anthropic, Weight: 1, Tier: 1, ModelMap: map[string]string{"gpt-4.1": "claude-sonnet-4.5"}},
//	}, router.Config{})
//
// Sim.SetFaults changes the faults at run time, to kill and revive a
// provider in the middle of a test; Sim.Requests counts the calls it
// received. gatewaytest.NewServer serves a Sim over a real socket when a
// test needs one.
package provider
