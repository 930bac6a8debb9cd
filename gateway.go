package gateway

import (
	"context"
	"net/http"
)

// Middleware wraps a RoundTripper with one capability (limits, retries,
// circuit breaking, metering…). A Middleware must honour the
// http.RoundTripper contract: it clones a request before changing it, returns
// either a response or an error (never both), and leaves releasing what it
// holds to the moment the response body is closed or the call fails.
type Middleware func(next http.RoundTripper) http.RoundTripper

// RoundTripperFunc adapts an ordinary function to http.RoundTripper, as
// http.HandlerFunc does for http.Handler.
type RoundTripperFunc func(*http.Request) (*http.Response, error)

// RoundTrip calls f(req).
func (f RoundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// Chain wraps rt in mws. mws[0] is the outermost: it sees the request first and
// the response last, so Chain(p, a, b) is a(b(p)). A nil middleware is
// skipped. Chain with no middlewares returns rt itself.
func Chain(rt http.RoundTripper, mws ...Middleware) http.RoundTripper {
	for i := len(mws) - 1; i >= 0; i-- {
		if mws[i] != nil {
			rt = mws[i](rt)
		}
	}
	return rt
}

// Provider is a model backend. It receives a request in the OpenAI wire format
// (the path names the operation: /v1/chat/completions, /v1/completions,
// /v1/embeddings, /v1/models) and answers in it, translating to and from its
// own API if it must. The request context carries the parsed *Call
// (CallFrom); a Provider reads the model and stream flag from it rather than
// parsing the body again.
//
// A streaming Provider should end its stream with a usage chunk (an event with
// empty choices and a usage object, as OpenAI sends with
// stream_options.include_usage): the entry point records it and removes it
// when the caller did not ask for it. Without one, usage is estimated.
//
// Implementations must be safe for concurrent use.
type Provider interface {
	http.RoundTripper
	// Name identifies the provider in attempts, metrics and usage records. It
	// must never contain a secret.
	Name() string
}

// ModelLister is implemented by providers that know which models they serve.
// A router uses it to pick eligible targets and to answer /v1/models.
type ModelLister interface {
	Models() []string
}

// HealthChecker is implemented by providers that can check their upstream
// without spending tokens.
type HealthChecker interface {
	HealthCheck(ctx context.Context) error
}
