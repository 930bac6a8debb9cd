package tracing_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/provider"
	"github.com/llmgate/gateway/tracing"
)

// In server mode the incoming traceparent is the call span's parent, and
// the upstream receives a traceparent of the same trace whose parent is
// the attempt span; no key or prompt is in any span.
func TestTraceparentInAndOut(t *testing.T) {
	tr, exp := newTracer(t, tracing.Config{})
	up := gatewaytest.NewServer(gatewaytest.MustNewSim("upstream", gatewaytest.SimConfig{}))
	defer up.Close()
	upTransport := up.Client().Transport
	openai, err := provider.NewOpenAI(provider.OpenAIConfig{Name: "openai", BaseURL: up.BaseURL(), APIKey: upstreamKey,
		Transport: tr.Transport(upTransport)})
	require.NoError(t, err)
	defer openai.CloseIdleConnections()
	gw := httptest.NewServer(tr.Handler(gateway.NewHandler(gateway.Chain(openai, tr.Middleware(), tr.Attempt()))))
	defer gw.Close()

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, err := http.NewRequest(http.MethodPost, gw.URL+"/v1/chat/completions", strings.NewReader(chatBody(false)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+virtualKey)
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	resp, err := gw.Client().Do(req)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	readClose(t, resp)
	// The call span ends when the call does, after the caller has its
	// answer: Close waits for the handler.
	gw.Close()

	spans := exp.GetSpans()
	cs, as := byKind(t, spans)
	require.Len(t, as, 1)
	assert.Equal(t, trace.SpanKindServer, cs.SpanKind)
	assert.True(t, cs.Parent.IsRemote())
	assert.Equal(t, traceID, cs.Parent.TraceID().String())
	assert.Equal(t, parentID, cs.Parent.SpanID().String())
	assert.Equal(t, cs.SpanContext.SpanID(), as[0].Parent.SpanID())
	host, port := splitHostPort(t, up.URL)
	assert.Equal(t, host, attrs(as[0])[tracing.KeyServerAddress].AsString())
	assert.Equal(t, port, attrs(as[0])[tracing.KeyServerPort].AsInt64())

	recs := up.Requests()
	require.Len(t, recs, 1)
	tp := recs[0].Header.Get("traceparent")
	parts := strings.Split(tp, "-")
	require.Len(t, parts, 4, "upstream traceparent %q", tp)
	assert.Equal(t, traceID, parts[1], "the upstream is in the caller's trace")
	assert.Equal(t, as[0].SpanContext.SpanID().String(), parts[2], "the upstream's parent is the attempt span")
	assert.Equal(t, "01", parts[3])
	assertNoSecrets(t, spans)
}

func splitHostPort(t *testing.T, rawURL string) (string, int64) {
	t.Helper()
	hp := strings.TrimPrefix(rawURL, "http://")
	i := strings.LastIndexByte(hp, ':')
	require.Positive(t, i)
	var port int64
	for _, c := range hp[i+1:] {
		port = port*10 + int64(c-'0')
	}
	return hp[:i], port
}
