// Package gatewaytest provides what tests of code built on the gateway
// need, as net/http/httptest does for net/http: an OpenAI-compatible
// upstream on a real socket that injects the faults only a socket can
// (Server), and a fake clock (Clock).
//
// Server serves any gateway.Provider, usually a gatewaytest.Sim, so a provider
// adapter, an SDK or a whole gateway can be pointed at it:
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
// Clock moves only when a test says so; pass it to every component's
// Clock option and use BlockUntil before Advance to know that a goroutine
// is waiting on it:
//
//	clk := gatewaytest.NewClock(time.Unix(0, 0))
//	go func() { gateway.Sleep(ctx, clk, time.Second) }()
//	clk.BlockUntil(1)
//	clk.Advance(time.Second)
package gatewaytest
