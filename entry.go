package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
)

// entry is what NewHandler and NewTransport share: parse the Call once, bind
// it to the context, dispatch, and tap the response for usage.
type entry struct {
	rt     http.RoundTripper
	cfg    config
	target string // the provider's name when rt is a bare Provider
}

func newEntry(rt http.RoundTripper, opts []Option) *entry {
	if rt == nil {
		panic("gateway: nil RoundTripper")
	}
	e := &entry{rt: rt, cfg: newConfig(opts)}
	if p, ok := rt.(Provider); ok {
		e.target = p.Name()
	}
	return e
}

// begin parses body into a Call bound to a context derived from parent.
func (e *entry) begin(parent context.Context, op Op, body []byte) (*Call, context.Context, error) {
	c, err := ParseCall(op, body, e.cfg.limits)
	if err != nil {
		return nil, nil, err
	}
	c.Start = e.cfg.clock.Now()
	if caller, ok := CallerFrom(parent); ok {
		c.Caller = caller
	}
	return c, c.bind(parent), nil
}

// outbound points req (a copy the entry owns) at the call's body.
func (e *entry) outbound(req *http.Request, c *Call) {
	c.reader.Reset(c.Body)
	req.Body = &c.reader
	req.ContentLength = int64(len(c.Body))
	req.GetBody = c.getBody
	if len(c.Body) == 0 {
		req.Body, req.GetBody = http.NoBody, nil
	}
}

func (c *Call) getBody() (io.ReadCloser, error) { return newBytesBody(c.Body), nil }

// send sends req through rt. When rt is a bare provider and nothing inside
// recorded an attempt during the round trip, it records one, so every call
// that reached a provider has its attempt.
func (e *entry) send(req *http.Request, c *Call) (*http.Response, error) {
	before := c.attemptCount()
	resp, err := e.rt.RoundTrip(req)
	if e.target != "" && c.attemptCount() == before && req.Context().Err() == nil && !reachedNoProvider(c, err) {
		a := Attempt{Target: e.target, Model: c.Model, Start: c.Start, Latency: e.cfg.clock.Now().Sub(c.Start)}
		if err != nil {
			a.Err = ErrorFor(err).Code // a code, never the error's text
		} else {
			a.Status = resp.StatusCode
		}
		c.RecordAttempt(a)
	}
	if err != nil {
		if resp != nil && resp.Body != nil { // a RoundTripper broke its contract; don't leak
			resp.Body.Close()
		}
		return nil, err
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	return resp, nil
}

// reachedNoProvider reports whether a round trip ended without reaching a
// provider: a router refusing with nothing to try, or a model list a
// router answers itself. Such a round trip is no attempt.
func reachedNoProvider(c *Call, err error) bool {
	return c.Op == OpModels || errors.Is(err, ErrNoHealthyProvider) || errors.Is(err, ErrModelNotFound)
}

// dispatch sends req and taps a successful response for usage.
func (e *entry) dispatch(req *http.Request, c *Call) (*http.Response, error) {
	resp, err := e.send(req, c)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 && c.Op != OpModels {
		c.tap.init(c, resp.Body, e.cfg.clock, c.Stream, e.cfg.maxEventBytes)
		resp.Body = &c.tap
	}
	return resp, nil
}

type callerKey struct{}

// WithCaller returns a copy of ctx that tells the entry point who is calling,
// for client mode, where no authentication middleware sets it.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the Caller set by WithCaller.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}
