package gateway

import (
	"context"

	"net/http"
)

// Outbound is what one attempt sends to a Provider: the model, after every
// rename on the way, and the request body, after every edit. It is
// authoritative: a Provider sends Outbound.Body and asks for Outbound.Model,
// and req.Body reads the same bytes for RoundTrippers that only know net/http.
//
// The entry point starts every call with the caller's model and body (for a
// stream, with stream_options.include_usage set, so that every stream reports
// usage); a router renames the model for each target (WithModel); any
// middleware may edit the body (WithBody). Those two functions are the only
// ways to change it, and each keeps req.Body, GetBody, ContentLength and the
// Outbound together. Body must not be modified: build a new slice.
type Outbound struct {
	Model string
	Body  []byte

	spans bodySpans // positions in Body; zero when not known
}

type outboundKey struct{}

// outboundContext is a context node that carries an edited Outbound.
type outboundContext struct {
	context.Context
	out Outbound
}

func (o *outboundContext) Value(key any) any {
	if key == (outboundKey{}) {
		return &o.out
	}
	return o.Context.Value(key)
}

// OutboundFrom returns what the attempt of ctx sends, or the zero Outbound when
// ctx carries no Call.
func OutboundFrom(ctx context.Context) Outbound {
	if o, ok := ctx.Value(outboundKey{}).(*Outbound); ok {
		return *o
	}
	return Outbound{}
}

// WithModel returns a shallow copy of req whose attempt sends model instead of
// the current Outbound model: the model's JSON string is replaced where it
// stands in the body and nothing else changes. It returns req itself when the
// model is already model, or when req carries no Call.
func WithModel(req *http.Request, model string) *http.Request {
	cur, ok := req.Context().Value(outboundKey{}).(*Outbound)
	if !ok || cur.Model == model {
		return req
	}
	return withOutbound(req, cur.renamed(model))
}

// WithBody returns a shallow copy of req whose attempt sends body, a request of
// the call's operation with the call's stream flag: a guard that redacts
// messages, a middleware that adds a parameter. The body is parsed and
// validated under the entry point's limits, the Outbound's model is read from
// it, and, for a stream, stream_options.include_usage is set in it as the
// entry point sets it. It returns an error deriving from ErrBadRequest when
// body is not such a request, and from ErrInternal when req carries no Call.
// body must not be modified afterwards.
func WithBody(req *http.Request, body []byte) (*http.Request, error) {
	c := CallFrom(req.Context())
	if c == nil {
		return nil, errNoCall
	}
	p, err := parseCall(c.Op, body, *c.lim)
	if err != nil {
		return nil, err
	}
	if p.Stream != c.Stream {
		return nil, badRequest("gateway: an edited body cannot change stream")
	}
	out := Outbound{Model: p.Model, Body: body, spans: p.spans}
	if c.Stream && !p.IncludeUsage && c.Op.streamUsageOnRequest() {
		if out, err = out.withIncludeUsage(); err != nil {
			return nil, err
		}
	}
	return withOutbound(req, out), nil
}

// withOutbound returns a shallow copy of req that sends out.
func withOutbound(req *http.Request, out Outbound) *http.Request {
	r := req.WithContext(&outboundContext{Context: req.Context(), out: out})
	setBody(r, out.Body)
	return r
}

// errNoCall is what the attempt boundary and WithBody return for a request
// that did not come through an entry point.
var errNoCall = ErrInternal.WithMessage("gateway: no Call in the request context: " +
	"send requests through gateway.NewClient or gateway.NewHandler")
