package config

import (
	"context"
	"net"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/llmgate/gateway/tracing"
)

// tracingConf is the tracing section: OpenTelemetry spans of each call and
// attempt (package tracing), exported over OTLP; off without an endpoint.
// README.md, "Configuration", documents each key.
type tracingConf struct {
	Endpoint string            `yaml:"endpoint"` // host:port or a URL; empty: off
	Protocol string            `yaml:"protocol"` // grpc | http/protobuf (default)
	Insecure bool              `yaml:"insecure"`
	Headers  map[string]string `yaml:"headers"`
	// SampleRatio is the share of new traces sampled; left out, 1. A
	// written 0 samples a call only when its caller's traceparent does
	// (tracing.ExportConfig.SampleRatio, a pointer for that reason).
	SampleRatio    *float64 `yaml:"sample_ratio"`
	ServiceName    string   `yaml:"service_name"`    // default tracing.DefaultServiceName
	CaptureContent bool     `yaml:"capture_content"` // the prompt on the call span; default off
}

// tracingPlan is the tracing section checked: export is nil when it
// exports nothing (no endpoint).
type tracingPlan struct {
	export *tracing.ExportConfig
	cfg    tracing.Config
}

// tracingSection checks the tracing section, whether or not it is on. The
// export settings are checked by tracing.ExportConfig.Validate one key at a
// time, so that each mistake is reported at its key.
func (c *checker) tracingSection(t tracingConf) tracingPlan {
	check := func(key string, e tracing.ExportConfig) {
		e.Endpoint = "127.0.0.1:4318" // checked below
		c.lib("tracing."+key, e.Validate())
	}
	check("protocol", tracing.ExportConfig{Protocol: t.Protocol})
	check("sample_ratio", tracing.ExportConfig{SampleRatio: t.SampleRatio})
	check("headers", tracing.ExportConfig{Headers: t.Headers})
	if c.src.has("tracing.service_name") && t.ServiceName == "" {
		c.fail("tracing.service_name", "must not be empty (leave it out for %q)", tracing.DefaultServiceName)
	}
	if t.Endpoint != "" {
		if port, ok := endpointPort(t.Endpoint); !ok {
			c.fail("tracing.endpoint", "want host:port or a URL (e.g. 127.0.0.1:4318, https://collector:4318/v1/traces)")
		} else if p := portProblem(port, false); p != "" {
			c.fail("tracing.endpoint", "%s (the exporter puts it in a URL)", p)
		}
	}
	p := tracingPlan{cfg: tracing.Config{CaptureContent: t.CaptureContent}}
	if t.Endpoint != "" {
		p.export = &tracing.ExportConfig{Endpoint: t.Endpoint, Protocol: t.Protocol, Insecure: t.Insecure,
			Headers: t.Headers, SampleRatio: t.SampleRatio, ServiceName: t.ServiceName}
	}
	return p
}

// endpointPort returns the port of e, host:port or an http(s) URL with a
// host ("" when the URL names none), and whether e is one of those.
func endpointPort(e string) (port string, ok bool) {
	if strings.Contains(e, "://") {
		u, err := url.Parse(e)
		return u.Port(), err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
	}
	host, port, err := net.SplitHostPort(e)
	return port, err == nil && host != "" && port != ""
}

// newTracer builds the tracer the plan describes: over the embedder's
// TracerProvider when there is one (the export settings are then unused),
// else over one exporting to the plan's endpoint, which the gateway owns
// (Stop and Close shut it down); nil when tracing is off.
func (c *checker) newTracer(p tracingPlan, embedder trace.TracerProvider) (*tracing.Tracer, shutdowner) {
	if embedder == nil && p.export == nil {
		return nil, nil
	}
	cfg := p.cfg
	var owned shutdowner
	if embedder != nil {
		cfg.TracerProvider = embedder
	} else {
		tp, err := tracing.NewProvider(context.Background(), *p.export) // connects at the first export
		if !c.lib("tracing", err) {
			return nil, nil
		}
		cfg.TracerProvider, owned = tp, tp
	}
	tr, err := tracing.New(cfg)
	if !c.lib("tracing", err) {
		if owned != nil {
			_ = owned.Shutdown(context.Background())
		}
		return nil, nil
	}
	return tr, owned
}

// shutdowner is a TracerProvider the gateway owns: its Shutdown flushes
// the spans queued and stops its exporter.
type shutdowner interface {
	Shutdown(ctx context.Context) error
}
