package router_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
)

// BenchmarkRouterRoundTrip measures a whole call through the client entry
// point and a router over two simulators, against the same call sent to one
// simulator directly through the entry point: the difference is the router's
// cost per call (pick, breaker, attempt boundary per target, body and
// context wrapping).
func BenchmarkRouterRoundTrip(b *testing.B) {
	a, c := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{}), gatewaytest.MustNewSim("b", gatewaytest.SimConfig{})
	r, err := router.New("router", []router.Target{{Provider: a, Weight: 1}, {Provider: c, Weight: 1}}, router.Config{})
	if err != nil {
		b.Fatal(err)
	}
	// renamed: each target sends the call's model under another name
	// (ModelMap), so each dispatch sends a request copy of its own.
	renamed, err := router.New("renamed", []router.Target{
		{Provider: a, Weight: 1, ModelMap: map[string]string{"gpt-4.1": "a-model"}},
		{Provider: c, Weight: 1, ModelMap: map[string]string{"gpt-4.1": "b-model"}}}, router.Config{})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
	}{{"sim", a}, {"router", r}, {"router/renamed", renamed}} {
		b.Run(bc.name, func(b *testing.B) {
			client := gateway.NewClient(bc.rt)
			body := []byte(rtrChatBody)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Post(rtrChatURL, "application/json", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatal(resp.Status)
				}
			}
		})
	}
}
