package gateway

import (
	"net/http"
)

// Transport is the client-mode entry point: an http.RoundTripper for an AI
// SDK's *http.Client. It reads the request body once, parses it into a Call
// carried in the request context, sends the request through rt (a chain of
// middlewares over a Provider), and records usage as the SDK reads the
// response.
//
// Refusals come back as responses, not errors: a request the gateway refuses
// or fails on its own (bad request, rate limited, no healthy provider,
// upstream timeout…) gets the HTTP response a gateway server would send (the
// status, an OpenAI-style JSON body and Retry-After), so an SDK reports it as
// the same API error in client and server mode and its own retry rules stay
// right. Match it with the code: for openai-go,
//
//	var apiErr *openai.Error
//	if errors.As(err, &apiErr) && errors.Is(gateway.ErrorFromCode(apiErr.Code), gateway.ErrRateLimited) { … }
//
// The one exception is the caller's own context ending: RoundTrip returns its
// error, so the SDK reports context.Canceled or context.DeadlineExceeded.
//
// A request that already carries a Call (one gateway entry inside another)
// passes straight through. Transport is safe for concurrent use.
type Transport struct{ e *entry }

// NewTransport returns the client-mode entry point over rt. It panics if rt
// is nil or an option is invalid.
func NewTransport(rt http.RoundTripper, opts ...Option) *Transport {
	return &Transport{e: newEntry(rt, opts)}
}

// NewClient returns an *http.Client whose transport is NewTransport(rt,
// opts...), for SDKs: openai.NewClient(option.WithHTTPClient(gateway.NewClient(rt)),
// option.WithMaxRetries(0)). It has no timeout of its own: use contexts, or
// the breaker package's timeouts, which do not cut healthy long streams.
func NewClient(rt http.RoundTripper, opts ...Option) *http.Client {
	return &http.Client{Transport: NewTransport(rt, opts...)}
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if c := CallFrom(ctx); c != nil {
		return t.e.send(req, c)
	}
	op := OpFromPath(req.URL.Path)
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		body, err = ReadBody(req.Body, req.ContentLength, t.e.cfg.limits.MaxBodyBytes)
		req.Body.Close()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return ErrorResponse(req, err), nil
		}
	} else if req.Body != nil {
		req.Body.Close()
	}
	c, cctx, err := t.e.begin(ctx, op, body)
	if err != nil {
		return ErrorResponse(req, err), nil
	}
	out := req.WithContext(cctx)
	t.e.outbound(out, c)
	resp, err := t.e.dispatch(out, c)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return ErrorResponse(req, err), nil
	}
	return resp, nil
}
