package metrics_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/metrics"
)

// endedCall runs one chat call through a client chain and returns its
// Call, ended and observed.
func endedCall(b *testing.B, stream bool) *gateway.Call {
	var got *gateway.Call
	sim := gatewaytest.MustNewSim("openai", gatewaytest.SimConfig{})
	client := gateway.NewClient(sim, gateway.WithObserver(func(c *gateway.Call) { got = c }))
	body := chat("gpt-4.1", "")
	if stream {
		body = chat("gpt-4.1", `,"stream":true`)
	}
	resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json", strings.NewReader(body))
	require.NoError(b, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.NotNil(b, got)
	return got
}

// BenchmarkObserve measures what Observe costs per call against a no-op
// observer, on ended Calls of a real chain (a chat call and a stream).
func BenchmarkObserve(b *testing.B) {
	m, err := metrics.New(metrics.Config{Models: []string{"gpt-4.1"}})
	require.NoError(b, err)
	noop := func(*gateway.Call) {}
	for _, kind := range []struct {
		name   string
		stream bool
	}{{"chat", false}, {"stream", true}} {
		c := endedCall(b, kind.stream)
		b.Run(kind.name+"/noop", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				noop(c)
			}
		})
		b.Run(kind.name+"/metrics", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m.Observe(c)
			}
		})
		b.Run(kind.name+"/metrics-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					m.Observe(c)
				}
			})
		})
	}
}

// BenchmarkChainWithMetrics is a whole client-mode call over the
// simulator, without an observer and with Observe: the share of a call the
// metrics take.
func BenchmarkChainWithMetrics(b *testing.B) {
	m, err := metrics.New(metrics.Config{Models: []string{"gpt-4.1"}})
	require.NoError(b, err)
	sim := gatewaytest.MustNewSim("openai", gatewaytest.SimConfig{})
	body := chat("gpt-4.1", "")
	for _, c := range []struct {
		name string
		opts []gateway.Option
	}{{"none", nil}, {"metrics", []gateway.Option{gateway.WithObserver(m.Observe)}}} {
		client := gateway.NewClient(sim, c.opts...)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
