package gatewaytest_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// benchSim sends body to the Sim b.N times, reading and closing each
// response. withCall binds the parsed Call as an entry point would; without
// it the Sim parses the body itself.
func benchSim(b *testing.B, body string, withCall bool) {
	s := gatewaytest.NewSim("sim", gatewaytest.SimConfig{})
	ctx := context.Background()
	if withCall {
		c, err := gateway.ParseCall(gateway.OpChat, []byte(body), gateway.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		ctx = gateway.WithCall(ctx, c)
	}
	req := simReq(ctx, http.MethodPost, "/v1/chat/completions", body)
	raw := []byte(body)
	rd := bytes.NewReader(raw)
	req.Body = io.NopCloser(rd)
	buf := make([]byte, 32<<10)
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(raw)
		resp, err := s.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := resp.Body.Read(buf); err != nil {
				break
			}
		}
		resp.Body.Close()
	}
}

func BenchmarkSim(b *testing.B) {
	b.Run("chat", func(b *testing.B) { benchSim(b, simChatBody, true) })
	b.Run("chat-stream", func(b *testing.B) { benchSim(b, simStreamBody, true) })
	b.Run("chat-nocall", func(b *testing.B) { benchSim(b, simChatBody, false) })
}

// BenchmarkSimTransport is a non-streaming call through the client-mode
// entry point: parse, dispatch to the Sim, read with the usage tap.
func BenchmarkSimTransport(b *testing.B) {
	rt := gateway.NewTransport(gatewaytest.NewSim("sim", gatewaytest.SimConfig{}))
	body := []byte(simChatBody)
	buf := make([]byte, 32<<10)
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, "http://sim.invalid/v1/chat/completions", bytes.NewReader(body))
		resp, err := rt.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := resp.Body.Read(buf); err != nil {
				break
			}
		}
		resp.Body.Close()
	}
}
