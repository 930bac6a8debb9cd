package tracing

import (
	"context"
	"errors"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/llmgate/gateway"
)

// Attempt returns the middleware that makes one CLIENT span per attempt,
// a child of the call's span: put it last (innermost) in each router
// target's Middlewares, below breaker.Hedge, so that every request that
// reaches a Provider, each retry, fallback and hedge among them, has a span
// of its own; over a single Provider, put it last in gateway.Chain. Its
// span is in the context of the request it passes down, so Transport sends
// its trace upstream.
//
// The span is named as the call span is, and gets the attempt's record as
// the attempt boundary made it (gateway.Attempt: number, target, model
// sent, status, time to first content, failure code): the boundary's is
// the one record of an attempt, and this only reports it, its kind
// (llmgate.attempt.kind, gateway.Attempt.Kind) included.
// A round trip refused before sending (a model the caller's key may not
// use, an operation the Provider does not serve), which records no
// attempt, has a span with its error.type, llmgate.attempt.sent false and
// no llmgate.attempt, and is not marked an error.
// The span ends when the attempt's RoundTrip returns (for a stream, once
// its first content has arrived: the boundary holds it until then).
func (t *Tracer) Attempt() gateway.Middleware {
	return func(next http.RoundTripper) http.RoundTripper {
		if next == nil {
			panic("tracing: nil next RoundTripper")
		}
		target := ""
		if p, ok := next.(interface{ Name() string }); ok {
			target = p.Name()
		}
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			c := gateway.CallFrom(req.Context())
			if c == nil || c.Op == gateway.OpModels {
				return next.RoundTrip(req)
			}
			return t.attempt(next, req, c, target)
		})
	}
}

func (t *Tracer) attempt(next http.RoundTripper, req *http.Request, c *gateway.Call, target string) (*http.Response, error) {
	ctx := req.Context()
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && !sc.IsSampled() {
		// The call's trace is not sampled, so no attempt of it is: skip
		// the span (Transport sends the call's unsampled trace upstream).
		return next.RoundTrip(req)
	}
	op := operationName(c.Op)
	ctx, span := t.tracer.Start(ctx, op, clientSpan...) // named once sampled, as the call span is
	if !span.IsRecording() {
		return next.RoundTrip(req.WithContext(ctx))
	}
	model := clip(c.Model)
	span.SetName(spanName(op, model))
	cs, _ := ctx.Value(callSpanKey{}).(*callSpan)
	if cs == nil { // no call span of this Tracer above: the attempts are told here
		t.hookAttempts(c)
	}
	attrs := []attribute.KeyValue{KeyOperationName.String(op), KeyRequestModel.String(model), KeyRequestStream.Bool(c.Stream)}
	if target != "" {
		attrs = append(attrs, KeyTarget.String(target), KeyProviderName.String(target))
	}
	span.SetAttributes(attrs...)
	as := &attemptContext{Context: ctx, span: span}
	resp, err := next.RoundTrip(req.WithContext(as))
	switch {
	case err != nil:
		if !as.recorded { // the boundary recorded nothing
			et := gateway.ErrorFor(err).Code
			span.SetAttributes(KeyErrorType.String(et))
			if refusedBeforeSending(err) {
				// No request was made: not a failure of this round trip,
				// which the call's span and the next target's tell of.
				span.SetAttributes(KeyAttemptSent.Bool(false))
			} else {
				span.SetStatus(codes.Error, et)
			}
		}
	case resp.StatusCode >= 400 && !as.recorded:
		span.SetAttributes(KeyHTTPStatus.Int(resp.StatusCode), KeyErrorType.String(errorType(resp.StatusCode, nil)))
		span.SetStatus(codes.Error, "")
	}
	span.End()
	return resp, err
}

// refusedBeforeSending reports whether err is an attempt boundary's or a
// Provider's refusal that sent nothing and recorded no attempt: a model the
// caller's key may not use, an operation the Provider does not serve.
func refusedBeforeSending(err error) bool {
	return errors.Is(err, gateway.ErrModelNotAllowed) || errors.Is(err, gateway.ErrNotFound)
}

type attemptKey struct{}

// attemptContext carries a recording attempt span to the boundary's
// record (attempted), which runs in the same goroutine, before the
// boundary returns to Attempt.
type attemptContext struct {
	context.Context
	span     trace.Span
	recorded bool
}

func (a *attemptContext) Value(key any) any {
	if key == (attemptKey{}) {
		return a
	}
	return a.Context.Value(key)
}

// attempted is told of each attempt the call's boundaries record
// (hooks.OnAttempt), with the context of the request the boundary served:
// when Attempt's span is in it, the record goes on that span.
func (t *Tracer) attempted(ctx context.Context, attempt any) {
	as, ok := ctx.Value(attemptKey{}).(*attemptContext)
	a, isAttempt := attempt.(gateway.Attempt)
	if !ok || !isAttempt || as.recorded {
		return // no attempt span of ours just above this boundary
	}
	as.recorded = true
	attrs := make([]attribute.KeyValue, 0, 8)
	attrs = append(attrs, KeyAttempt.Int(a.N), KeyAttemptKind.String(a.Kind.String()), KeyTarget.String(a.Target),
		KeyProviderName.String(a.Target), KeyModelSent.String(clip(a.Model)))
	if a.Status != 0 {
		attrs = append(attrs, KeyHTTPStatus.Int(a.Status))
		if a.Status/100 == 2 && a.Err == "" {
			attrs = append(attrs, KeyResponseModel.String(clip(a.Model)))
		}
	}
	if a.TTFT > 0 {
		attrs = append(attrs, KeyTimeToFirst.Float64(a.TTFT.Seconds()))
	}
	et := a.Err
	if et == "" {
		et = errorType(a.Status, nil)
	}
	if et != "" {
		attrs = append(attrs, KeyErrorType.String(et))
		as.span.SetStatus(codes.Error, et)
	}
	as.span.SetAttributes(attrs...)
}
