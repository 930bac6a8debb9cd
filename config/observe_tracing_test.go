package config

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/llmgate/gateway/gatewaytest"
)

// otlpReceiver is a loopback OTLP/HTTP collector that keeps the spans it
// is sent.
type otlpReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	spans []gotSpan
}

type gotSpan struct {
	name, kind          string
	trace, span, parent string // hex
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var msg collectortrace.ExportTraceServiceRequest
		if req.URL.Path == "/v1/traces" && proto.Unmarshal(body, &msg) == nil {
			r.mu.Lock()
			for _, rs := range msg.GetResourceSpans() {
				for _, ss := range rs.GetScopeSpans() {
					for _, s := range ss.GetSpans() {
						r.spans = append(r.spans, gotSpan{name: s.GetName(), kind: s.GetKind().String(),
							trace: hexID(s.GetTraceId()), span: hexID(s.GetSpanId()), parent: hexID(s.GetParentSpanId())})
					}
				}
			}
			r.mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.Close)
	return r
}

// received returns the spans by kind (SPAN_KIND_SERVER, SPAN_KIND_CLIENT).
func (r *otlpReceiver) received() map[string][]gotSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]gotSpan{}
	for _, s := range r.spans {
		out[s.kind] = append(out[s.kind], s)
	}
	return out
}

func hexID(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"

// upstreamYAML is one openai-type provider at base, its health probes off
// (the tests count the upstream's requests), with extra appended.
func upstreamYAML(base, extra string) string {
	return `
providers:
  - {name: up, type: openai, base_url: "` + base + `", api_key: sk-upstream-key-1, models: [gpt-4o-mini]}
health: {disable: true}   # no probe among the requests the upstream counts
` + extra
}

// callWithTrace makes a chat call through h carrying the caller's
// traceparent, sampled.
func callWithTrace(t *testing.T, url string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Traceparent", "00-"+callerTrace+"-"+callerSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// With tracing.endpoint, a call through Build's handler exports its call
// and attempt spans in the caller's trace (Stop flushes them), and the
// upstream sees the trace in its traceparent. Without it, nothing is sent
// upstream: no tracing layer is in the chain.
func TestTracingExportsSpansAndSendsTheTraceUpstream(t *testing.T) {
	recv := newOTLPReceiver(t)
	up := gatewaytest.NewServer(gatewaytest.MustNewSim("upstream", gatewaytest.SimConfig{Models: []string{"gpt-4o-mini"}}))
	t.Cleanup(up.Close)

	f, err := Parse("t.yaml", []byte(upstreamYAML(up.BaseURL(), `
tracing:
  endpoint: "`+recv.URL+`/v1/traces"
  sample_ratio: 0    # only what the caller sampled
  headers: {X-Collector-Key: collector-secret-1}
`)), env{}.lookup)
	require.NoError(t, err)
	g, err := Build(f, Options{UsageFile: filepath.Join(t.TempDir(), "u.jsonl")})
	require.NoError(t, err)
	defer g.Close()
	require.NoError(t, g.Start(context.Background()))
	srv := httptest.NewServer(g.Handler())
	callWithTrace(t, srv.URL)
	srv.Close()
	require.NoError(t, g.Stop(context.Background()))

	reqs := up.Requests()
	require.Len(t, reqs, 1)
	tp := reqs[0].Header.Get("Traceparent")

	spans := recv.received()
	require.Len(t, spans["SPAN_KIND_SERVER"], 1, "one call span: %v", spans)
	require.Len(t, spans["SPAN_KIND_CLIENT"], 1, "one attempt span: %v", spans)
	call, attempt := spans["SPAN_KIND_SERVER"][0], spans["SPAN_KIND_CLIENT"][0]
	assert.Equal(t, "chat gpt-4o-mini", call.name)
	assert.Equal(t, callerTrace, call.trace)
	assert.Equal(t, callerSpan, call.parent, "the call span's parent is the caller's")
	assert.Equal(t, callerTrace, attempt.trace)
	assert.Equal(t, call.span, attempt.parent, "the attempt span is the call span's child")
	assert.Equal(t, "00-"+callerTrace+"-"+attempt.span+"-01", tp, "the upstream's parent is the attempt span")

	// The same file without the tracing section.
	up2 := gatewaytest.NewServer(gatewaytest.MustNewSim("upstream", gatewaytest.SimConfig{Models: []string{"gpt-4o-mini"}}))
	t.Cleanup(up2.Close)
	_, base := reloadGateway(t, upstreamYAML(up2.BaseURL(), ""), Options{})
	callWithTrace(t, base)
	require.Len(t, up2.Requests(), 1)
	assert.Empty(t, up2.Requests()[0].Header.Get("Traceparent"))
}

// Every mistake of the metrics and tracing sections is reported at once,
// each at its line and key, and none echoes a header's value.
func TestMetricsAndTracingMistakesAreAllReported(t *testing.T) {
	err := checkConfig(okProviders+`metrics:
  path: metrics
  models: ["gpt*4", gpt-4o, gpt-4o]
  tenants: 3
tracing:
  endpoint: "no-port"
  protocol: thrift
  sample_ratio: 1.5
  headers: {"bad header": collector-secret-1}
  service_name: ""
  capture_content: maybe
`, env{})
	require.Error(t, err)
	for _, want := range []string{
		"t.yaml:6: metrics.path: want a clean absolute path",
		`t.yaml:7: metrics.models: metrics: model "gpt*4": '*' may only end a model pattern`,
		`t.yaml:7: metrics.models: metrics: model "gpt-4o" is listed twice`,
		"t.yaml:8: metrics.tenants: want true, false or a list of tenant names",
		"t.yaml:10: tracing.endpoint: want host:port or a URL",
		`t.yaml:11: tracing.protocol: tracing: Protocol "thrift" is not`,
		"t.yaml:12: tracing.sample_ratio: tracing: SampleRatio 1.5 is outside [0, 1]",
		"t.yaml:13: tracing.headers: tracing: Headers: invalid header name",
		"t.yaml:14: tracing.service_name: must not be empty",
		"t.yaml:15: tracing.capture_content: want a bool",
	} {
		assert.Contains(t, err.Error(), want)
	}
	assert.Len(t, strings.Split(err.Error(), "\n"), 10, err.Error())
	assert.NotContains(t, err.Error(), "collector-secret-1")

	err = checkConfig(okProviders+"metrics:\n  path: /healthz\n  tenants: [acme, 7]\n", env{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "t.yaml:6: metrics.path: is a path the gateway serves already")
	assert.Contains(t, err.Error(), "t.yaml:7: metrics.tenants[1]: want a tenant name")
}

// A reload checks the two sections as Build does, and says that their
// changes (but metrics.models) need a restart.
func TestReloadChecksMetricsAndTracing(t *testing.T) {
	g, _ := reloadGateway(t, okProviders, Options{})
	err := reloadWith(t, g, okProviders+"tracing: {protocol: thrift}\n")
	require.ErrorIs(t, err, ErrReloadRefused)
	assert.Contains(t, err.Error(), "tracing.protocol")
	require.NoError(t, reloadWith(t, g, okProviders+"metrics: {path: /m, models: [x]}\ntracing: {endpoint: 127.0.0.1:4318}\n"))
	a, _ := Parse("t.yaml", []byte(okProviders), env{}.lookup)
	b, _ := Parse("t.yaml", []byte(okProviders+"metrics: {path: /m, models: [x]}\ntracing: {endpoint: 127.0.0.1:4318}\n"), env{}.lookup)
	assert.Equal(t, []string{"metrics", "tracing"}, RestartKeys(a, b))
	c, _ := Parse("t.yaml", []byte(okProviders+"metrics: {models: [x]}\n"), env{}.lookup)
	assert.Empty(t, RestartKeys(a, c), "metrics.models applies live")
}
