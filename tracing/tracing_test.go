package tracing_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/tracing"
)

// A call that falls back from a failing target to a healthy one has one
// call span, parent of two attempt spans, with the attributes the call's
// owners recorded, exactly.
func TestSpanTreeAndAttributesOfAFallbackCall(t *testing.T) {
	tr, exp := newTracer(t, tracing.Config{})
	var call *gateway.Call
	client := gateway.NewClient(fallbackRouter(t, tr), gateway.WithObserver(func(c *gateway.Call) { call = c }))
	resp := post(t, client, context.Background(), chatBody(false))
	require.Equal(t, 200, resp.StatusCode)
	readClose(t, resp)

	spans := exp.GetSpans()
	require.Len(t, spans, 3)
	cs, as := byKind(t, spans)
	require.Len(t, as, 2)
	require.NotNil(t, call)
	u, ok := call.Usage()
	require.True(t, ok)
	require.Greater(t, u.CompletionTokens, 0)

	assert.Equal(t, "chat gpt-4.1", cs.Name)
	assert.Equal(t, trace.SpanKindInternal, cs.SpanKind)
	assert.False(t, cs.Parent.IsValid(), "a root span: the caller's context had none")
	assert.Equal(t, codes.Unset, cs.Status.Code)
	assert.Equal(t, map[attribute.Key]attribute.Value{
		tracing.KeyOperationName:   attribute.StringValue("chat"),
		tracing.KeyRequestModel:    attribute.StringValue("gpt-4.1"),
		tracing.KeyRequestStream:   attribute.BoolValue(false),
		tracing.KeyRequestMaxTok:   attribute.IntValue(16),
		tracing.KeyCallID:          attribute.StringValue(call.ID),
		tracing.KeyAttempts:        attribute.IntValue(2),
		tracing.KeyProviderName:    attribute.StringValue("backup"),
		tracing.KeyTarget:          attribute.StringValue("backup"),
		tracing.KeyResponseModel:   attribute.StringValue("gpt-4.1-mini"),
		tracing.KeyInputTokens:     attribute.IntValue(u.PromptTokens),
		tracing.KeyOutputTokens:    attribute.IntValue(u.CompletionTokens),
		tracing.KeyCacheReadTokens: attribute.IntValue(0),
		tracing.KeyHTTPStatus:      attribute.IntValue(200),
	}, attrs(cs))

	recorded := call.Attempts()
	require.Len(t, recorded, 2)
	for i, a := range as {
		assert.Equal(t, cs.SpanContext.TraceID(), a.SpanContext.TraceID())
		assert.Equal(t, cs.SpanContext.SpanID(), a.Parent.SpanID(), "attempt %d is the call span's child", i+1)
		assert.Equal(t, "chat gpt-4.1", a.Name)
	}
	assert.Equal(t, map[attribute.Key]attribute.Value{
		tracing.KeyOperationName: attribute.StringValue("chat"),
		tracing.KeyRequestModel:  attribute.StringValue("gpt-4.1"),
		tracing.KeyRequestStream: attribute.BoolValue(false),
		tracing.KeyTarget:        attribute.StringValue("primary"),
		tracing.KeyProviderName:  attribute.StringValue("primary"),
		tracing.KeyAttemptKind:   attribute.StringValue(tracing.KindFirst),
		tracing.KeyAttempt:       attribute.IntValue(1),
		tracing.KeyModelSent:     attribute.StringValue("gpt-4.1"),
		tracing.KeyHTTPStatus:    attribute.IntValue(503),
		tracing.KeyErrorType:     attribute.StringValue("503"),
	}, attrs(as[0]))
	assert.Equal(t, codes.Error, as[0].Status.Code)
	assert.Equal(t, map[attribute.Key]attribute.Value{
		tracing.KeyOperationName: attribute.StringValue("chat"),
		tracing.KeyRequestModel:  attribute.StringValue("gpt-4.1"),
		tracing.KeyRequestStream: attribute.BoolValue(false),
		tracing.KeyTarget:        attribute.StringValue("backup"),
		tracing.KeyProviderName:  attribute.StringValue("backup"),
		tracing.KeyAttemptKind:   attribute.StringValue(tracing.KindFallback),
		tracing.KeyAttempt:       attribute.IntValue(2),
		tracing.KeyModelSent:     attribute.StringValue("gpt-4.1-mini"),
		tracing.KeyHTTPStatus:    attribute.IntValue(200),
		tracing.KeyResponseModel: attribute.StringValue("gpt-4.1-mini"),
	}, attrs(as[1]))
	assert.Equal(t, codes.Unset, as[1].Status.Code)
	assertNoSecrets(t, spans)
}

// In client mode the call span's parent is the span in the caller's
// context.
func TestCallSpanIsAChildOfTheCallersSpan(t *testing.T) {
	tr, exp := newTracer(t, tracing.Config{})
	parent := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: trace.FlagsSampled})
	ctx := trace.ContextWithSpanContext(context.Background(), parent)
	client := gateway.NewClient(fallbackRouter(t, tr))
	readClose(t, post(t, client, ctx, chatBody(false)))
	cs, as := byKind(t, exp.GetSpans())
	assert.Equal(t, parent.TraceID(), cs.Parent.TraceID())
	assert.Equal(t, parent.SpanID(), cs.Parent.SpanID())
	require.Len(t, as, 2)
	for _, a := range as {
		assert.Equal(t, parent.TraceID(), a.SpanContext.TraceID())
	}
}

// A stream's call span ends when its body is closed, not before; its
// attempt span ends once the first content has arrived.
func TestStreamCallSpanEndsWhenTheBodyIsClosed(t *testing.T) {
	tr, exp := newTracer(t, tracing.Config{})
	// Long enough that its first byte is far from its end.
	client := gateway.NewClient(fallbackRouterOf(t, tr, 2000))
	resp := post(t, client, context.Background(), strings.Replace(chatBody(true), `"max_tokens":16`, `"max_tokens":4000`, 1))
	require.Equal(t, 200, resp.StatusCode)
	buf := make([]byte, 1)
	_, err := resp.Body.Read(buf)
	require.NoError(t, err)
	for _, s := range exp.GetSpans() {
		assert.Equal(t, trace.SpanKindClient, s.SpanKind, "only attempt spans have ended: %q", s.Name)
	}
	require.Len(t, exp.GetSpans(), 2)
	require.NoError(t, resp.Body.Close())
	spans := exp.GetSpans()
	cs, as := byKind(t, spans)
	assert.Len(t, as, 2)
	assert.Equal(t, attribute.BoolValue(true), attrs(cs)[tracing.KeyRequestStream])
	_, hasTTFT := attrs(as[1])[tracing.KeyTimeToFirst]
	assert.True(t, hasTTFT, "a stream's served attempt has its time to first chunk")
	assertNoSecrets(t, spans)
}

// With CaptureContent the call span holds the request body, cut to its
// bound; never a key, which travels in headers.
func TestCaptureContentRecordsThePromptButNoKey(t *testing.T) {
	tr, exp := newTracer(t, tracing.Config{CaptureContent: true, MaxContentBytes: 64})
	client := gateway.NewClient(fallbackRouter(t, tr))
	readClose(t, post(t, client, context.Background(), chatBody(false)))
	cs, _ := byKind(t, exp.GetSpans())
	body := attrs(cs)[tracing.KeyRequestBody].AsString()
	assert.Len(t, body, 64)
	assert.Equal(t, chatBody(false)[:64], body)
	for _, s := range exp.GetSpans() {
		for _, kv := range s.Attributes {
			assert.NotContains(t, kv.Value.Emit(), virtualKey)
		}
	}
	_, err := tracing.New(tracing.Config{MaxContentBytes: -1})
	assert.Error(t, err)
}

// An upstream's error answer makes an error call span whose error.type is
// the status; a gateway refusal's is the gateway's code.
func TestErrorTypeOfFailedCalls(t *testing.T) {
	tr, exp := newTracer(t, tracing.Config{})
	down := gateway.Chain(newSim(t, "down", 500), tr.Middleware(), tr.Attempt())
	resp := post(t, gateway.NewClient(down), context.Background(), chatBody(false))
	readClose(t, resp)
	cs, as := byKind(t, exp.GetSpans())
	require.Len(t, as, 1)
	assert.Equal(t, attribute.StringValue("500"), attrs(cs)[tracing.KeyErrorType])
	assert.Equal(t, codes.Error, cs.Status.Code)
	assert.Equal(t, attribute.IntValue(500), attrs(as[0])[tracing.KeyHTTPStatus])
}
