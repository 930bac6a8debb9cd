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
//	sim := provider.NewSim("sim-a", provider.SimConfig{
//		Models: []string{"gpt-4o-mini"},
//		Faults: provider.Faults{ErrorRate: 0.05, ErrorStatuses: []int{429, 503}},
//		Seed:   1,
//	})
//	client := gateway.NewClient(sim) // an *http.Client for any OpenAI SDK
//	resp, err := client.Post("http://sim.invalid/v1/chat/completions", "application/json",
//		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
//
// Sim.SetFaults changes the faults at run time, to kill and revive a
// provider in the middle of a test; Sim.Requests counts the calls it
// received. gatewaytest.NewServer serves a Sim over a real socket when a
// test needs one.
package provider
