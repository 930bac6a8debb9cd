package tracing_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/tracing"
)

type benchBody struct{ bytes.Reader }

func (*benchBody) Close() error { return nil }

// benchCalls runs b.N client-mode calls over a Sim, through chain.
func benchCalls(b *testing.B, rt http.RoundTripper) {
	tr := gateway.NewClient(rt).Transport
	body := []byte(chatBody(false))
	req, _ := http.NewRequest(http.MethodPost, "http://sim/v1/chat/completions", nil)
	req.ContentLength = int64(len(body))
	rb := &benchBody{}
	b.ReportAllocs()
	for b.Loop() {
		rb.Reset(body)
		req.Body = rb
		resp, err := tr.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func benchTracer(b *testing.B, sampler sdktrace.Sampler) *tracing.Tracer {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler), sdktrace.WithSyncer(tracetest.NewNoopExporter()))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr, err := tracing.New(tracing.Config{TracerProvider: tp})
	if err != nil {
		b.Fatal(err)
	}
	return tr
}

// BenchmarkTracingNone is a call with no tracing: the baseline.
func BenchmarkTracingNone(b *testing.B) {
	benchCalls(b, gateway.Chain(gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})))
}

// BenchmarkTracingOff is a call through the call and attempt spans with a
// sampler that never samples: what tracing costs when it is off.
func BenchmarkTracingOff(b *testing.B) {
	tr := benchTracer(b, sdktrace.NeverSample())
	benchCalls(b, gateway.Chain(gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{}), tr.Middleware(), tr.Attempt()))
}

// BenchmarkTracingOn samples every call (two spans, to an exporter that
// drops them).
func BenchmarkTracingOn(b *testing.B) {
	tr := benchTracer(b, sdktrace.AlwaysSample())
	benchCalls(b, gateway.Chain(gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{}), tr.Middleware(), tr.Attempt()))
}
