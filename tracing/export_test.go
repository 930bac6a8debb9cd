package tracing_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/llmgate/gateway/tracing"
)

func TestExportConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  tracing.ExportConfig
		ok   bool
	}{
		{"http", tracing.ExportConfig{Endpoint: "127.0.0.1:4318"}, true},
		{"grpc url", tracing.ExportConfig{Endpoint: "http://127.0.0.1:4317", Protocol: tracing.ProtocolGRPC, SampleRatio: new(0.1)}, true},
		{"no endpoint", tracing.ExportConfig{}, false},
		{"bad protocol", tracing.ExportConfig{Endpoint: "127.0.0.1:4318", Protocol: "thrift"}, false},
		{"ratio over 1", tracing.ExportConfig{Endpoint: "127.0.0.1:4318", SampleRatio: new(1.5)}, false},
		{"negative ratio", tracing.ExportConfig{Endpoint: "127.0.0.1:4318", SampleRatio: new(-0.1)}, false},
		{"bad header name", tracing.ExportConfig{Endpoint: "127.0.0.1:4318", Headers: map[string]string{"a b": "secret-value-1"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.ok {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "secret-value-1")
		})
	}
}

// NewProvider exports over OTLP/HTTP: a span reaches a local receiver's
// /v1/traces, with the configured headers.
func TestNewProviderExportsOverOTLPHTTP(t *testing.T) {
	var posts atomic.Int64
	var gotKey atomic.Value
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			posts.Add(1)
			gotKey.Store(r.Header.Get("X-Collector-Key"))
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer recv.Close()

	ctx := context.Background()
	tp, err := tracing.NewProvider(ctx, tracing.ExportConfig{Endpoint: recv.URL + "/v1/traces",
		Headers: map[string]string{"X-Collector-Key": "k1"}, ServiceName: "gw-test"})
	require.NoError(t, err)
	_, span := tp.Tracer("test").Start(ctx, "one")
	span.End()
	require.NoError(t, tp.ForceFlush(ctx))
	require.NoError(t, tp.Shutdown(ctx))
	assert.Equal(t, int64(1), posts.Load())
	assert.Equal(t, "k1", gotKey.Load())
}

// A gRPC provider is built without connecting; Shutdown with nothing
// queued sends nothing.
func TestNewProviderGRPCConnectsLazily(t *testing.T) {
	ctx := context.Background()
	tp, err := tracing.NewProvider(ctx, tracing.ExportConfig{Endpoint: "127.0.0.1:1", Protocol: tracing.ProtocolGRPC, Insecure: true})
	require.NoError(t, err)
	require.NoError(t, tp.Shutdown(ctx))
	_, err = tracing.NewProvider(ctx, tracing.ExportConfig{})
	assert.Error(t, err)
}

// A written SampleRatio of 0 is not "every trace": a new trace is never
// sampled, and a call follows its caller's sampled flag either way. Nil is
// every trace.
func TestSampleRatioZeroSamplesOnlyWhatTheCallerSampled(t *testing.T) {
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer recv.Close()
	ctx := context.Background()
	parent := func(sampled bool) context.Context {
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, Remote: true})
		if sampled {
			sc = sc.WithTraceFlags(trace.FlagsSampled)
		}
		return trace.ContextWithRemoteSpanContext(ctx, sc)
	}
	for _, tc := range []struct {
		name                     string
		ratio                    *float64
		root, sampledP, unsample bool
	}{
		{"zero", new(0.0), false, true, false},
		{"absent", nil, true, true, false},
		{"one", new(1.0), true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp, err := tracing.NewProvider(ctx, tracing.ExportConfig{Endpoint: recv.URL + "/v1/traces", SampleRatio: tc.ratio})
			require.NoError(t, err)
			defer func() { require.NoError(t, tp.Shutdown(ctx)) }()
			tr := tp.Tracer("test")
			for _, c := range []struct {
				ctx  context.Context
				want bool
			}{{ctx, tc.root}, {parent(true), tc.sampledP}, {parent(false), tc.unsample}} {
				_, span := tr.Start(c.ctx, "call")
				assert.Equal(t, c.want, span.SpanContext().IsSampled())
				span.End()
			}
		})
	}
}
