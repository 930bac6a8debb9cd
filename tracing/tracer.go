package tracing

import (
	"errors"
	"net/http"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// instrumentationName names the tracer this package asks its TracerProvider
// for: the scope every span it makes carries.
const instrumentationName = "github.com/llmgate/gateway/tracing"

// DefaultMaxContentBytes bounds the request body a span records when
// Config.CaptureContent is on.
const DefaultMaxContentBytes = 8 << 10

// Config configures a Tracer. Its zero value works: the global
// TracerProvider (a no-op one unless the program set one: no span is
// exported and no network is touched) and W3C Trace Context propagation.
type Config struct {
	// TracerProvider makes the spans. Nil means otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// Propagator reads the incoming trace (Handler, and a client-mode
	// request's headers) and writes it upstream (Transport). Nil means
	// propagation.TraceContext{} (traceparent and tracestate), not the
	// global propagator, which is a no-op unless the program set one.
	Propagator propagation.TextMapPropagator
	// CaptureContent records the call's request body (the prompt), cut to
	// MaxContentBytes, on its call span as llmgate.request.body. Off by
	// default: prompts may hold personal data. Even on, no key is recorded:
	// keys travel in headers, which no span records. Completions are never
	// recorded (the gateway streams them through without keeping them).
	CaptureContent bool
	// MaxContentBytes bounds what CaptureContent records. Zero means
	// DefaultMaxContentBytes; negative is an error.
	MaxContentBytes int
}

// Validate reports what is wrong with cfg.
func (cfg Config) Validate() error {
	if cfg.MaxContentBytes < 0 {
		return errors.New("tracing: negative MaxContentBytes")
	}
	return nil
}

// Tracer makes the gateway's spans: one per call (Middleware), one per
// attempt (Attempt), with the incoming trace as their parent (Handler, or
// the caller's context) and the attempt's span context sent upstream
// (Transport). It holds no goroutine and nothing to close; the
// TracerProvider's owner shuts that down. It is safe for concurrent use.
type Tracer struct {
	tracer     trace.Tracer
	prop       propagation.TextMapPropagator
	capture    bool
	maxContent int
}

// New returns a Tracer for cfg, or cfg's Validate error.
func New(cfg Config) (*Tracer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tp := cfg.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	prop := cfg.Propagator
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	maxContent := cfg.MaxContentBytes
	if maxContent == 0 {
		maxContent = DefaultMaxContentBytes
	}
	return &Tracer{
		tracer:     tp.Tracer(instrumentationName),
		prop:       prop,
		capture:    cfg.CaptureContent,
		maxContent: maxContent,
	}, nil
}

// Transport returns base wrapped so that each upstream request carries the
// trace of the span in its context (the attempt's span, below Attempt) in
// the Propagator's headers (traceparent), and that span records the
// upstream's server.address and server.port. Give it to a provider's
// Transport (provider.OpenAIConfig.Transport and its kin): providers build
// their upstream requests anew, so this is where the trace goes upstream.
// The request is cloned before its headers change. A nil base means a clone
// of http.DefaultTransport; give a provider's provider.NewTransport() as
// base instead, to keep the dedicated, tuned transport it would otherwise
// make for itself.
func (t *Tracer) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	return &upstream{t: t, base: base}
}
