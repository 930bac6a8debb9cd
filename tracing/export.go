package tracing

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// OTLP protocols (ExportConfig.Protocol).
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http/protobuf"
)

// DefaultServiceName is ExportConfig.ServiceName's default.
const DefaultServiceName = "llmgate"

// ExportConfig says where spans are exported, over OTLP. There is no
// default endpoint: a program that configures none exports nothing and
// makes no connection (leave tracing off, or use Config's zero value).
type ExportConfig struct {
	// Endpoint is the collector: "host:port", or a URL
	// ("https://collector:4318/v1/traces", "http://127.0.0.1:4317").
	// Required.
	Endpoint string
	// Protocol is ProtocolGRPC or ProtocolHTTP; "" means ProtocolHTTP, the
	// OTLP default.
	Protocol string
	// Insecure sends without TLS (a collector on the same host).
	Insecure bool
	// Headers are sent with every export (a collector's API key: kept
	// out of every span, log and error here).
	Headers map[string]string
	// SampleRatio is the share of new traces sampled (calls that come with
	// no trace of their caller's), in [0, 1]; nil means 1, every trace. A
	// call whose caller's trace was sampled (or not) is sampled (or not)
	// with it, whatever the ratio, so 0 samples a call only when its
	// caller's traceparent says sampled. It is a pointer so that a
	// configuration's written 0 is told from its absence (new(0.1) makes
	// one).
	SampleRatio *float64
	// ServiceName is the resource's service.name; "" means
	// DefaultServiceName.
	ServiceName string
}

// Validate reports every problem with cfg at once. Its messages never
// hold a header's value.
func (cfg ExportConfig) Validate() error {
	var errs []error
	if cfg.Endpoint == "" {
		errs = append(errs, errors.New("tracing: Endpoint is required"))
	}
	switch cfg.Protocol {
	case "", ProtocolGRPC, ProtocolHTTP:
	default:
		errs = append(errs, fmt.Errorf("tracing: Protocol %q is not %q or %q", clip(cfg.Protocol), ProtocolGRPC, ProtocolHTTP))
	}
	if r := cfg.SampleRatio; r != nil && !(*r >= 0 && *r <= 1) {
		errs = append(errs, fmt.Errorf("tracing: SampleRatio %v is outside [0, 1]", *r))
	}
	for k := range cfg.Headers {
		if k == "" || strings.ContainsAny(k, " \t\r\n:") {
			errs = append(errs, fmt.Errorf("tracing: Headers: invalid header name %q", clip(k)))
		}
	}
	return errors.Join(errs...)
}

// NewProvider returns a TracerProvider that batches spans to the OTLP
// collector cfg names, for Config.TracerProvider, or cfg's Validate error.
// It connects lazily, at the first export. The caller owns it: its
// Shutdown flushes what is queued and stops its goroutine (call it at
// exit, with a deadline).
func NewProvider(ctx context.Context, cfg ExportConfig) (*sdktrace.TracerProvider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	exp, err := newExporter(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	name := cfg.ServiceName
	if name == "" {
		name = DefaultServiceName
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", name)))
	if err != nil {
		_ = exp.Shutdown(ctx)
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	ratio := 1.0
	if cfg.SampleRatio != nil {
		ratio = *cfg.SampleRatio
	}
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	), nil
}

func newExporter(ctx context.Context, cfg ExportConfig) (*otlptrace.Exporter, error) {
	isURL := strings.Contains(cfg.Endpoint, "://")
	if cfg.Protocol == ProtocolGRPC {
		opts := []otlptracegrpc.Option{otlptracegrpc.WithHeaders(cfg.Headers)}
		if isURL {
			opts = append(opts, otlptracegrpc.WithEndpointURL(cfg.Endpoint))
		} else {
			opts = append(opts, otlptracegrpc.WithEndpoint(cfg.Endpoint))
		}
		if cfg.Insecure {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		return otlptracegrpc.New(ctx, opts...)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithHeaders(cfg.Headers)}
	if isURL {
		opts = append(opts, otlptracehttp.WithEndpointURL(cfg.Endpoint))
	} else {
		opts = append(opts, otlptracehttp.WithEndpoint(cfg.Endpoint))
	}
	if cfg.Insecure {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	return otlptracehttp.New(ctx, opts...)
}
