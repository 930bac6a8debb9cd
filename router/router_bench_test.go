package router_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
)

// BenchmarkRouterRoundTrip measures a whole call through a router over two
// simulators, against the same call sent to one simulator directly: the
// difference is the router's cost per call (pick, attempt record, breaker,
// body and context wrapping).
func BenchmarkRouterRoundTrip(b *testing.B) {
	a, c := gatewaytest.NewSim("a", gatewaytest.SimConfig{}), gatewaytest.NewSim("b", gatewaytest.SimConfig{})
	r, err := router.New("router", []router.Target{{Provider: a, Weight: 1}, {Provider: c, Weight: 1}}, router.Config{})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
	}{{"sim", a}, {"router", r}} {
		b.Run(bc.name, func(b *testing.B) {
			body := []byte(rtrChatBody)
			b.ReportAllocs()
			for b.Loop() {
				call, err := gateway.ParseCall(gateway.OpChat, body, gateway.Limits{})
				if err != nil {
					b.Fatal(err)
				}
				req, _ := http.NewRequestWithContext(gateway.WithCall(context.Background(), call), http.MethodPost, rtrChatURL, nil)
				gateway.SetBody(req, body)
				resp, err := bc.rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
