package tracing

import (
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// upstream is Transport's RoundTripper: the trace of the request's span goes
// upstream in the Propagator's headers.
type upstream struct {
	t    *Tracer
	base http.RoundTripper
}

func (u *upstream) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	span := trace.SpanFromContext(ctx)
	if !span.SpanContext().IsValid() {
		return u.base.RoundTrip(req)
	}
	if span.IsRecording() {
		host, port := req.URL.Hostname(), req.URL.Port()
		if port == "" {
			port = "80"
			if req.URL.Scheme == "https" {
				port = "443"
			}
		}
		span.SetAttributes(KeyServerAddress.String(host))
		if p, err := strconv.Atoi(port); err == nil {
			span.SetAttributes(KeyServerPort.Int(p))
		}
	}
	out := req.Clone(ctx) // RoundTrip must not change the caller's request
	u.t.prop.Inject(ctx, propagation.HeaderCarrier(out.Header))
	return u.base.RoundTrip(out)
}

// CloseIdleConnections closes the base transport's idle connections, when
// it has that method (a provider's CloseIdleConnections reaches it).
func (u *upstream) CloseIdleConnections() {
	if c, ok := u.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
