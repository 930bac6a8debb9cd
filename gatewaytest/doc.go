// Package gatewaytest provides the test doubles that code built on the
// gateway needs, as net/http/httptest does for net/http: an in-process
// simulated model (Sim), an OpenAI-compatible upstream on a real socket that
// injects the faults only a socket can (Server), and a fake clock (Clock).
//
// Sim answers chat, completion, Responses API, embedding and model-list
// calls as an OpenAI-compatible server would: deterministic replies, usage reports,
// latency and token pacing on an injectable clock, and faults drawn from a
// seeded PRNG (error statuses with Retry-After, hangs, connection resets,
// stalled and cut streams). It is the provider of the gateway's own tests and
// benchmarks and of the main job's embedded default (ExampleNewSim):
//
//	sim, err := gatewaytest.NewSim("sim-a", gatewaytest.SimConfig{
//		Models: []string{"gpt-4o-mini"},
//		Faults: gatewaytest.Faults{ErrorRate: 0.05, ErrorStatuses: []int{429, 503}},
//		Seed:   1,
//	})
//	client := gateway.NewClient(sim) // an *http.Client for any OpenAI SDK
//
// Sim.SetFaults changes the faults at run time, to kill and revive a provider
// in the middle of a test; Sim.Requests counts the calls it received.
//
// Server serves any gateway.Provider, usually a Sim, so a provider
// adapter, an SDK or a whole gateway can be pointed at it (ExampleNewServer):
//
//	s := gatewaytest.NewServer(gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{}))
//	defer s.Close()
//	s.SetFaults(gatewaytest.SocketFaults{ResetRate: 0.1, Seed: 1})
//	client := openai.NewClient(option.WithBaseURL(s.BaseURL()), option.WithHTTPClient(s.Client()))
//	// … then assert on s.Requests(): the key, model and body that went upstream.
//
// Faults the model itself makes (error statuses, hangs, stalled or cut
// streams) are the Sim's; the Server adds connection resets before or after
// the headers, requests that are never answered, and slow headers.
//
// AnthropicServer (NewAnthropicServer) is a fake Anthropic Messages API on
// a loopback socket: JSON and SSE answers in Anthropic's grammar, tool_use
// and thinking replies, cache usage, and faults (an error status such as
// 529, an error event after the 200, a cut stream), for code that calls
// Anthropic, through the gateway or not (ExampleNewAnthropicServer). A Sim
// answers the gateway's Anthropic-format front door (gateway.OpMessages)
// too, translating its OpenAI answers. The vendor fakes are named alike:
// AnthropicServer and GeminiServer, each with its Config, Faults and Usage.
//
// GeminiServer is a fake Gemini API on a real socket, speaking Gemini's own
// wire format (generateContent, streamGenerateContent with alt=sse,
// embeddings, the model list) with its faults (error statuses in Gemini's
// shape, cut streams, error events after a 200), for testing code that
// talks to Gemini, such as provider.Gemini (ExampleNewGeminiServer):
//
//	g, err := gatewaytest.NewGeminiServer(gatewaytest.GeminiConfig{APIKey: "test-key"})
//	defer g.Close()
//	p, err := provider.NewGemini(provider.GeminiConfig{BaseURL: g.BaseURL(), APIKey: "test-key"})
//
// Clock moves only when a test says so; pass it to every component's
// Clock option and use BlockUntil before Advance to know that a goroutine
// is waiting on it (ExampleClock):
//
//	clk := gatewaytest.NewClock(time.Unix(0, 0))
//	go func() { fire, _ := clk.NewTimer(time.Second); <-fire }()
//	clk.BlockUntil(1)
//	clk.Advance(time.Second)
package gatewaytest
