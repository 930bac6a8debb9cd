package gateway

import (
	"net/http"
)

// NewClient returns the client-mode entry point over rt (a chain of
// middlewares over a Provider): an *http.Client for an AI SDK, which gets the
// chain without changing a call:
//
//	openai.NewClient(option.WithHTTPClient(gateway.NewClient(rt)), option.WithMaxRetries(0))
//
// Its transport reads each request body once, parses it into a Call carried
// in the request context, sends the request through rt, and records usage as
// the SDK reads the response. A request that already carries a Call (one
// gateway entry inside another) passes straight through. When rt is a bare
// Provider it is put behind an attempt boundary, as Chain does.
//
// Refusals come back as responses, not errors: a request the gateway refuses
// or fails on its own (bad request, no healthy provider, upstream timeout…)
// gets the HTTP response a gateway server would send (the status, an
// OpenAI-style JSON body, Retry-After and the X-Llmgate-Error header), so an
// SDK reports it as the same API error in client and server mode and its own
// retry rules stay right; ErrorFromResponse tells the gateway's own from a
// provider's. The one exception is the caller's own context ending: the
// transport returns its error, so the SDK reports context.Canceled or
// context.DeadlineExceeded.
//
// The client has no timeout of its own: use contexts, or the breaker
// package's timeouts, which do not cut healthy long streams. It panics if rt
// is nil or an option is invalid (Limits.Validate). It is safe for concurrent
// use.
func NewClient(rt http.RoundTripper, opts ...Option) *http.Client {
	return &http.Client{Transport: &transport{e: newEntry(rt, opts)}}
}

// transport is the client-mode entry point.
type transport struct{ e *entry }

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if c := CallFrom(ctx); c != nil {
		return send(t.e.rt, req)
	}
	start := t.e.cfg.clock.Now() // the call's Start: before its body is read
	op := opFromPath(req.URL.Path)
	var prefix, retrieve string
	if op == OpUnknown && req.Method == http.MethodGet {
		// A model's retrieval, GET {base}/v1/models/{id}, names no op.
		var isGet bool
		if prefix, retrieve, isGet = modelIDFromPath(req.URL.Path); isGet {
			op = OpModels
		}
	}
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		body, err = readBody(req.Body, req.ContentLength, t.e.cfg.limits.MaxBodyBytes)
		req.Body.Close()
		if err != nil {
			t.e.refused(ctx, op, err, start)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return opErrorResponse(req, op, err), nil
		}
	} else if req.Body != nil {
		req.Body.Close()
	}
	c, cctx, err := t.e.begin(ctx, op, body, start)
	if err != nil {
		t.e.refused(ctx, op, err, start)
		return opErrorResponse(req, op, err), nil
	}
	out := req.WithContext(cctx)
	if retrieve != "" {
		c.retrieve = retrieve
		u := *req.URL
		u.Path, u.RawPath = prefix+modelsPath, "" // providers are asked for the list
		out.URL = &u
	}
	t.e.outbound(out, c)
	resp, err := t.e.dispatch(out, c, false)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		resp = opErrorResponse(req, op, err)
	}
	if resp.Header == nil {
		resp.Header = make(http.Header)
	}
	c.writeHeaders(resp.Header)
	return resp, nil
}
