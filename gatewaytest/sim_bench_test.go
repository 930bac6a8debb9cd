package gatewaytest_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// benchSim sends body to the Sim b.N times, reading and closing each
// response, with the Call an entry point binds for it (the Sim never reads
// req.Body, so one request serves every iteration).
func benchSim(b *testing.B, body string) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	req := callReq(b, context.Background(), http.MethodPost, "/v1/chat/completions", body)
	buf := make([]byte, 32<<10)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := s.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		for range 10000 { // far more reads than a reply needs
			if _, err := resp.Body.Read(buf); err != nil {
				break
			}
		}
		resp.Body.Close()
	}
}

func BenchmarkSim(b *testing.B) {
	b.Run("chat", func(b *testing.B) { benchSim(b, simChatBody) })
	b.Run("chat-stream", func(b *testing.B) { benchSim(b, simStreamBody) })
}

// BenchmarkSimTransport is a non-streaming call through the client-mode
// entry point: parse, dispatch to the Sim behind its attempt boundary, read
// with the usage tap.
func BenchmarkSimTransport(b *testing.B) {
	rt := gateway.NewClient(gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})).Transport
	body := []byte(simChatBody)
	buf := make([]byte, 32<<10)
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, "http://sim.invalid/v1/chat/completions", bytes.NewReader(body))
		resp, err := rt.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		for range 10000 { // far more reads than a reply needs
			if _, err := resp.Body.Read(buf); err != nil {
				break
			}
		}
		resp.Body.Close()
	}
}
