package gateway

import (
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
// skipped.
//
// When rt is a Provider, and not a Dispatcher, Chain first puts it behind the
// attempt boundary: every round trip that reaches it is recorded as one
// Attempt on the Call (its target, the model sent, status, latency, time to
// first content), and a streaming response is held there until its first
// content event, so that every middleware above sees a stream that failed
// before it as a failed round trip. However many middlewares sit above, and
// whatever they repeat (Retry, Hedge), attempts are counted there and only
// there. Wrapping a chain in Chain again adds no second boundary.
func Chain(rt http.RoundTripper, mws ...Middleware) http.RoundTripper {
	rt = atBoundary(rt)
	for i := len(mws) - 1; i >= 0; i-- {
		if mws[i] != nil {
			rt = mws[i](rt)
		}
	}
	return rt
}

// Provider is a model backend: an http.RoundTripper that receives a request in
// the OpenAI wire format and answers in it, translating to and from its own
// API if it must.
//
// What a Provider receives: the request context carries the *Call, parsed
// once by the entry point (CallFrom: the operation, model asked, stream,
// max_tokens, caller), and the call's Outbound (OutboundFrom), which is
// authoritative for what this attempt sends: the model, after every rename,
// and the body, after every edit. req.Body reads the same bytes as
// Outbound.Body, for RoundTrippers that only know net/http; a Provider reads
// Outbound and closes req.Body. Stream usage reporting is already asked of it
// (stream_options.include_usage is set in the body of every stream). A
// Provider that renames the model itself (a deployment name) does so with
// WithModel and answers with the renamed request as resp.Request, so that the
// attempt records the model it sent.
//
// What it answers: a response or an error, never both, and a response body
// that is never nil, whose ContentLength is the number of bytes the body
// reads or -1 (a Provider that rewrites a body sets it anew, or to -1): the
// server-mode entry point sends a large answer with that length and fails
// one whose bytes break it. A body's Read ends when the request's context
// does (net/http's bodies do): the attempt boundary reads the first bytes
// of every 2xx answer before it returns it (a stream's until its first
// content, any other's to check it is JSON), and a call given up must not
// wait on it. A streaming Provider ends its stream with a usage chunk
// (an event with empty choices and a usage object, as OpenAI sends): the entry
// point records it and removes it when the caller did not ask for it. Without
// one, usage is estimated and flagged Estimated. A Provider that does not
// serve the call's operation refuses it before sending anything, with an
// error deriving from ErrNotFound (ErrNotFound.WithMessage): the attempt
// boundary then records no attempt, since no request was made, and a
// router moves on to another target. An ErrNotFound error means exactly
// that; an upstream's 404 is a response.
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

// Dispatcher is implemented by a Provider that forwards each call to
// Providers of its own, such as a router: it records no attempt itself, since
// every Provider it forwards to sits behind an attempt boundary of its own
// (see Chain). Chain and the entry points put every other Provider behind
// one. A Provider that wraps a Dispatcher, or wraps a chain, must implement
// Dispatcher too, or its calls are recorded twice.
type Dispatcher interface {
	Provider
	// Targets names the Providers calls may be forwarded to.
	Targets() []string
}
