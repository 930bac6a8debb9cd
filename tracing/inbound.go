package tracing

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/propagation"
)

// Handler returns next (gateway.NewHandler's handler, say) behind the
// reading of the incoming trace: the Propagator's headers (traceparent,
// tracestate) on each request become the parent of its call span
// (Middleware), whose kind is then SERVER. NewHandler forwards no such
// header to its chain, so in server mode this is where the caller's trace
// is read. Nothing else of the request changes.
func (t *Tracer) Handler(next http.Handler) http.Handler {
	if next == nil {
		panic("tracing: nil handler")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		next.ServeHTTP(w, r.WithContext(&serverContext{ctx}))
	})
}

type serverKey struct{}

// serverContext marks a call served by a gateway handler behind Handler.
type serverContext struct{ context.Context }

func (s *serverContext) Value(key any) any {
	if key == (serverKey{}) {
		return serverKey{}
	}
	return s.Context.Value(key)
}
