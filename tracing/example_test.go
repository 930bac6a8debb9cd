package tracing_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/tracing"
)

// A client-mode call over one Provider makes a call span and an attempt
// span, exported here to memory.
func ExampleTracer_Middleware() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	tr, err := tracing.New(tracing.Config{TracerProvider: tp})
	if err != nil {
		log.Fatal(err)
	}
	sim := gatewaytest.MustNewSim("openai", gatewaytest.SimConfig{})
	client := gateway.NewClient(gateway.Chain(sim, tr.Middleware(), tr.Attempt()))

	resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4.1","messages":[{"role":"user","content":"Hi"}]}`))
	if err != nil {
		log.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	for _, s := range exp.GetSpans() {
		fmt.Println(s.SpanKind, s.Name)
	}
	// Output:
	// client chat gpt-4.1
	// internal chat gpt-4.1
}

// In server mode, Handler reads the caller's traceparent and the call
// span is a SERVER span in the caller's trace.
func ExampleTracer_Handler() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	tr, err := tracing.New(tracing.Config{TracerProvider: tp})
	if err != nil {
		log.Fatal(err)
	}
	sim := gatewaytest.MustNewSim("openai", gatewaytest.SimConfig{})
	h := tr.Handler(gateway.NewHandler(gateway.Chain(sim, tr.Middleware(), tr.Attempt())))

	req, _ := http.NewRequest(http.MethodPost, "/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4.1","messages":[{"role":"user","content":"Hi"}]}`))
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(discard{}, req)
	for _, s := range exp.GetSpans() {
		if s.SpanKind.String() == "server" {
			fmt.Println(s.Name, s.Parent.TraceID())
		}
	}
	// Output: chat gpt-4.1 4bf92f3577b34da6a3ce929d0e0e4736
}

// NewProvider builds an OTLP exporter's TracerProvider from what a
// configuration file says; it connects at its first export.
func ExampleNewProvider() {
	ctx := context.Background()
	tp, err := tracing.NewProvider(ctx, tracing.ExportConfig{Endpoint: "127.0.0.1:4318", Insecure: true, SampleRatio: new(0.1)})
	if err != nil {
		log.Fatal(err)
	}
	defer tp.Shutdown(ctx)
	tr, err := tracing.New(tracing.Config{TracerProvider: tp})
	fmt.Println(tr != nil, err)
	// Output: true <nil>
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) WriteHeader(int)             {}
