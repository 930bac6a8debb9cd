package tracing_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
	"github.com/llmgate/gateway/tracing"
)

const (
	prompt      = "the-secret-prompt-text-41f3"
	virtualKey  = "sk-llmgate-virtual-key-8c2d9e"
	upstreamKey = "sk-upstream-account-key-77ab1c"
)

func chatBody(stream bool) string {
	s := ""
	if stream {
		s = `"stream":true,`
	}
	return `{"model":"gpt-4.1",` + s + `"max_tokens":16,"messages":[{"role":"user","content":"` + prompt + `"}]}`
}

// newTracer returns a Tracer sampling every span into an in-memory
// exporter, synchronously, so a span is there as soon as it has ended.
func newTracer(t testing.TB, cfg tracing.Config) (*tracing.Tracer, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	cfg.TracerProvider = tp
	tr, err := tracing.New(cfg)
	require.NoError(t, err)
	return tr, exp
}

// fallbackRouter is a primary that answers 503 to everything and a backup
// tier that serves, each target's attempts traced.
func fallbackRouter(t testing.TB, tr *tracing.Tracer) http.RoundTripper {
	return fallbackRouterOf(t, tr, 4)
}

// fallbackRouterOf is fallbackRouter whose backup answers with tokens.
func fallbackRouterOf(t testing.TB, tr *tracing.Tracer, tokens int) http.RoundTripper {
	t.Helper()
	primary := gatewaytest.MustNewSim("primary", gatewaytest.SimConfig{
		Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{503}}, Seed: 1})
	backup := gatewaytest.MustNewSim("backup", gatewaytest.SimConfig{CompletionTokens: tokens})
	rtr, err := router.New("llm", []router.Target{
		{Provider: primary, Weight: 1, Middlewares: []gateway.Middleware{tr.Attempt()}},
		{Provider: backup, Weight: 1, Tier: 1, Middlewares: []gateway.Middleware{tr.Attempt()},
			ModelMap: map[string]string{"gpt-4.1": "gpt-4.1-mini"}},
	}, router.Config{})
	require.NoError(t, err)
	return gateway.Chain(rtr, tr.Middleware())
}

// newSim is a Sim that answers every call with status.
func newSim(t testing.TB, name string, status int) *gatewaytest.Sim {
	t.Helper()
	return gatewaytest.MustNewSim(name, gatewaytest.SimConfig{
		Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{status}}, Seed: 1})
}

func post(t testing.TB, client *http.Client, ctx context.Context, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://gateway.invalid/v1/chat/completions", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+virtualKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	require.NoError(t, err)
	return resp
}

func readClose(t testing.TB, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return string(b)
}

func attrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value, len(s.Attributes))
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

// byKind splits spans into the call span (the one not CLIENT) and the
// attempt spans, in the order they ended.
func byKind(t testing.TB, spans tracetest.SpanStubs) (call tracetest.SpanStub, attempts []tracetest.SpanStub) {
	t.Helper()
	n := 0
	for _, s := range spans {
		if s.SpanKind == trace.SpanKindClient {
			attempts = append(attempts, s)
		} else {
			call, n = s, n+1
		}
	}
	require.Equal(t, 1, n, "one call span")
	return call, attempts
}

// assertNoSecrets searches every attribute, name, status and event of every
// span for the prompt and the keys.
func assertNoSecrets(t testing.TB, spans tracetest.SpanStubs) {
	t.Helper()
	for _, s := range spans {
		texts := []string{s.Name, s.Status.Description}
		for _, kv := range s.Attributes {
			texts = append(texts, string(kv.Key), kv.Value.Emit())
		}
		for _, e := range s.Events {
			texts = append(texts, e.Name)
			for _, kv := range e.Attributes {
				texts = append(texts, kv.Value.Emit())
			}
		}
		for _, txt := range texts {
			for _, secret := range []string{prompt, virtualKey, upstreamKey} {
				assert.NotContains(t, txt, secret, "span %q", s.Name)
			}
		}
	}
}
