package tracing_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
	"github.com/llmgate/gateway/tracing"
)

// refusingProvider does not serve chat: it refuses before sending, as a
// Provider does for an operation it lacks (gateway.ErrNotFound).
type refusingProvider struct{}

func (refusingProvider) Name() string { return "no-chat" }
func (refusingProvider) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, gateway.ErrNotFound.WithMessage("fake: no chat completions here")
}

// A target that refused a round trip before sending (it does not serve the
// operation) made no request: the attempt boundary records none, and its
// span says it was not sent and is no failure, so a call served by the
// next target does not look failed. Before, the span had status Error and
// error.type unknown_url.
func TestARefusedRoundTripsSpanIsNotSentAndNoError(t *testing.T) {
	tr, exp := newTracer(t, tracing.Config{})
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	rtr, err := router.New("llm", []router.Target{
		{Provider: refusingProvider{}, Weight: 1, Middlewares: []gateway.Middleware{tr.Attempt()}},
		{Provider: sim, Weight: 1, Tier: 1, Middlewares: []gateway.Middleware{tr.Attempt()}},
	}, router.Config{})
	require.NoError(t, err)
	resp := post(t, gateway.NewClient(gateway.Chain(rtr, tr.Middleware())), context.Background(), chatBody(false))
	require.Equal(t, 200, resp.StatusCode)
	readClose(t, resp)

	_, as := byKind(t, exp.GetSpans())
	require.Len(t, as, 2)
	var refused tracetest.SpanStub
	for _, s := range as {
		if attrs(s)[tracing.KeyTarget].AsString() == "no-chat" {
			refused = s
		}
	}
	a := attrs(refused)
	assert.Equal(t, attribute.BoolValue(false), a[tracing.KeyAttemptSent], "%v", a)
	assert.Equal(t, "unknown_url", a[tracing.KeyErrorType].AsString())
	_, numbered := a[tracing.KeyAttempt]
	assert.False(t, numbered, "no attempt number: the boundary recorded none")
	assert.NotEqual(t, "Error", refused.Status.Code.String(), "a refusal before sending is no failed request")
}
