package tracing

import (
	"context"
	"net/http"
	"strconv"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/hooks"
)

// Middleware returns the middleware that makes one span per call: put it
// first (outermost) in the chain given to gateway.NewHandler or
// gateway.NewClient, so the span covers every layer, retries and
// fallbacks included, as the GenAI conventions ask of a logical operation.
//
// Its parent is the caller's: in server mode the trace Handler read from
// the incoming request; in client mode the span in the caller's context,
// else a traceparent on the request itself. Its kind is SERVER under
// Handler (the gateway serves the caller) and INTERNAL otherwise (the
// attempts below are the CLIENT spans, one per upstream request). It is
// named "{operation} {model}" and ends when the call ends (the response
// body read to its end or closed, or the call failed), with the call's
// final usage, result and served target and model. A request that carries
// no Call (it did not come through an entry point) and a model list pass
// through with no span.
func (t *Tracer) Middleware() gateway.Middleware {
	return func(next http.RoundTripper) http.RoundTripper {
		if next == nil {
			panic("tracing: nil next RoundTripper")
		}
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			c := gateway.CallFrom(req.Context())
			if c == nil || c.Op == gateway.OpModels {
				return next.RoundTrip(req)
			}
			return next.RoundTrip(req.WithContext(t.startCall(req, c)))
		})
	}
}

// startCall starts the call's span and returns the context that carries it.
func (t *Tracer) startCall(req *http.Request, c *gateway.Call) context.Context {
	ctx := req.Context()
	if !trace.SpanContextFromContext(ctx).IsValid() {
		// Client mode with a traceparent on the request; in server mode
		// the handler forwards no such header, and Handler has read it.
		ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(req.Header))
	}
	opts := internalSpan
	if _, ok := ctx.Value(serverKey{}).(serverKey); ok {
		opts = serverSpan
	}
	op := operationName(c.Op)
	// Started under the operation's name, with no attributes, so that a
	// span that is not sampled costs no more than the SDK's own work (the
	// SDK's samplers read neither); a sampled one is named and described
	// at once.
	ctx, span := t.tracer.Start(ctx, op, opts...)
	if !span.IsRecording() {
		// Not sampled: the context still carries the span's trace (not
		// sampled, so upstream does not sample it either), and nothing
		// more is spent on it.
		return ctx
	}
	model := clip(c.Model)
	span.SetName(spanName(op, model))
	attrs := []attribute.KeyValue{KeyOperationName.String(op), KeyRequestModel.String(model),
		KeyCallID.String(c.ID), KeyRequestStream.Bool(c.Stream)}
	if c.MaxTokens > 0 {
		attrs = append(attrs, KeyRequestMaxTok.Int(c.MaxTokens))
	}
	if t.capture {
		attrs = append(attrs, KeyRequestBody.String(clipBytes(gateway.OutboundFrom(ctx).Body, t.maxContent)))
	}
	span.SetAttributes(attrs...)
	cs := &callSpan{span: span}
	t.hookAttempts(c)
	hooks.OnEnd(c, func() { endCall(span, c) })
	return &callContext{Context: ctx, cs: cs}
}

// The start options of each kind of span, made once.
var (
	internalSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal)}
	serverSpan   = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
	clientSpan   = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}
)

// callSpan is a recording call span, as its attempt spans find it: its
// presence tells Attempt that the call span's hooks report the attempts.
type callSpan struct {
	span trace.Span
}

type callSpanKey struct{}

// callContext carries a recording call span's shared state.
type callContext struct {
	context.Context
	cs *callSpan
}

func (c *callContext) Value(key any) any {
	if key == (callSpanKey{}) {
		return c.cs
	}
	return c.Context.Value(key)
}

// attemptsKey claims, once per call and Tracer, the attempt hook.
type attemptsKey struct{ t *Tracer }

// hookAttempts has the Call's attempt records told to t, once per call.
func (t *Tracer) hookAttempts(c *gateway.Call) {
	if hooks.CallOnce(c, attemptsKey{t}) {
		hooks.OnAttempt(c, t.attempted)
	}
}

// endCall finishes the call span with what the call's owners recorded:
// usage, result, the attempts, the served target and model.
func endCall(span trace.Span, c *gateway.Call) {
	attrs := make([]attribute.KeyValue, 0, 12)
	attempts := c.Attempts()
	attrs = append(attrs, KeyAttempts.Int(len(attempts)))
	if target, model := c.Served(); target != "" {
		attrs = append(attrs, KeyProviderName.String(target), KeyTarget.String(target), KeyResponseModel.String(clip(model)))
	}
	if u, ok := c.Usage(); ok {
		attrs = appendUsage(attrs, u)
	}
	if r := c.CacheResult(); r != "" {
		attrs = append(attrs, KeyCacheResult.String(r))
	}
	status, err := c.Result()
	if status != 0 {
		attrs = append(attrs, KeyHTTPStatus.Int(status))
	}
	if et := errorType(status, err); et != "" {
		attrs = append(attrs, KeyErrorType.String(et))
		span.SetStatus(codes.Error, et)
	}
	span.SetAttributes(attrs...)
	span.End()
}

func appendUsage(attrs []attribute.KeyValue, u gateway.Usage) []attribute.KeyValue {
	attrs = append(attrs, KeyInputTokens.Int(u.PromptTokens), KeyOutputTokens.Int(u.CompletionTokens),
		KeyCacheReadTokens.Int(u.CachedTokens))
	if u.CacheWriteTokens > 0 {
		attrs = append(attrs, KeyCacheWriteToks.Int(u.CacheWriteTokens))
	}
	if u.ReasoningTokens > 0 {
		attrs = append(attrs, KeyReasoningTokens.Int(u.ReasoningTokens))
	}
	if u.Estimated {
		attrs = append(attrs, KeyUsageEstimated.Bool(true))
	}
	return attrs
}

// errorType is error.type for an outcome: the gateway error's code (its
// errors have one each; their messages are not recorded), or, for an
// upstream's own error answer, its status, as the HTTP conventions do.
func errorType(status int, err error) string {
	if err != nil {
		return gateway.ErrorFor(err).Code
	}
	if status >= 400 {
		return strconv.Itoa(status)
	}
	return ""
}

// maxModel bounds a model name in a span name or attribute: a caller
// chooses it.
const maxModel = 256

func clip(s string) string {
	if len(s) <= maxModel {
		return s
	}
	n := maxModel
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func clipBytes(b []byte, n int) string {
	if len(b) > n {
		for n > 0 && !utf8.RuneStart(b[n]) {
			n--
		}
		b = b[:n]
	}
	return string(b)
}
