package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Attempt is one try of a call against one target, as the attempt boundary in
// front of its Provider recorded it.
type Attempt struct {
	N       int    // 1-based, in the order attempts ended
	Target  string // the provider's name (a router's target name)
	Model   string // the model sent: the Outbound's, after every rename on the way
	Status  int    // HTTP status, 0 when the attempt failed without a response
	Err     string // the failure's code, if any; never holds a secret or an upstream URL
	Start   time.Time
	Latency time.Duration // until the Provider answered (response headers) or failed
	TTFT    time.Duration // for a stream, until its first content event; 0 if none
	Kind    AttemptKind   // first, retry, fallback or hedge: what the attempt was to the call

	delivered bool // the caller read from this attempt's response
}

// boundary is the attempt boundary: the one place an attempt is recorded, and
// the one place a stream is held until its first content. Chain puts one in
// front of the Provider at the bottom of a chain, the entry points in front of
// a bare Provider, and a router in front of each of its targets' Providers;
// what sits above it (Retry, Hedge, breakers, timeouts, any middleware) never
// records attempts and never holds a stream.
type boundary struct{ p Provider }

// atBoundary returns rt behind an attempt boundary when it is a Provider that
// needs one: not a Dispatcher, and not already a boundary.
func atBoundary(rt http.RoundTripper) http.RoundTripper {
	switch p := rt.(type) {
	case *boundary, Dispatcher:
		return rt
	case Provider:
		return &boundary{p: p}
	}
	return rt
}

// Name is the Provider's name.
func (b *boundary) Name() string { return b.p.Name() }

// RoundTrip sends req to the Provider and records the attempt on the Call when
// the Provider has answered: for a 2xx stream, once its first content event
// has arrived (the response returned replays what was held and goes on with
// the rest, unbuffered); a stream that ends, breaks, reports an error or goes
// over 1 MiB before it fails here, with nothing sent on. So does a 2xx
// answer to a model call that is not a stream whose first bytes show it is
// not JSON or an upstream's error object, or that is empty, or that breaks
// at its start (answercheck.go): an error deriving from ErrUpstream, which
// the target's breaker counts and Retry and the router may try again. A
// model list is checked so too, but is no attempt at a model and is not
// recorded. An attempt at a model the Call's
// Caller may not use (Caller.Allows) is refused with ErrModelNotAllowed
// before the Provider sees it, and is not recorded either.
func (b *boundary) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	c := CallFrom(ctx)
	if c == nil {
		closeRequestBody(req)
		return nil, errNoCall
	}
	if c.Op == OpModels {
		resp, err := send(b.p, req)
		if err == nil {
			delete(resp.Header, errorHeader)
			if checksAnswer(c, req, resp) {
				hb := &headBody{ReadCloser: resp.Body}
				if err := checkAnswer(ctx, resp, &hb.head); err != nil {
					return nil, answerError(err, resp)
				}
				resp.Body = hb
			}
		}
		return resp, err
	}
	model := OutboundFrom(ctx).Model
	if !c.Caller.Allows(model) {
		// Refused before the provider sees it: no attempt, nothing for a
		// breaker to count; a router moves on to another target.
		closeRequestBody(req)
		return nil, ErrModelNotAllowed.WithMessage("gateway: this key may not use model " + strconv.Quote(clip(model, maxEchoed)))
	}
	kind, started := c.attemptStarted(b.p.Name())
	defer c.attemptEnded() // after the attempt is recorded
	start := c.clock.Now()
	resp, err := send(b.p, req)
	if err != nil && ctx.Err() == nil && errors.Is(err, ErrNotFound) {
		// The Provider does not serve the call's operation and refused
		// before sending (the ErrNotFound contract): no request was made,
		// so none is recorded; a router moves on to another target.
		c.attemptNotMade(started)
		return nil, err
	}
	headers := c.clock.Now()
	var ttft time.Duration
	var head answerHead // what the check of a non-stream answer read, replayed
	if err == nil {
		delete(resp.Header, errorHeader) // an upstream gateway's mark is not ours (the key is canonical)
		if c.Stream && resp.StatusCode/100 == 2 && bodyAllowed(resp.StatusCode) {
			// Every 2xx answer to a stream call that may have a body (not
			// a 204; one of length 0, http.NoBody, is an empty stream, which
			// fails) is held, whatever its Content-Type says: an event
			// stream under another one (a Go upstream that set none gets
			// net/http's sniffed text/plain) passes at its first content,
			// and an answer that is no stream (an HTML page, a JSON
			// completion from an upstream that ignored "stream") fails
			// here, before anything reached the caller, rather than reach
			// it as an empty stream.
			ct := resp.Header.Get("Content-Type")
			if resp, err = holdFirstContent(ctx, resp); err == nil {
				ttft = c.clock.Now().Sub(start)
			} else if ctx.Err() == nil && !isEventStreamType(ct) {
				err = notAStream(ct, err)
			}
		} else if checksAnswer(c, req, resp) {
			// A non-stream answer is checked to be JSON before it is
			// returned (answercheck.go), as a stream is held: a page or
			// nothing under a 200 fails here, where the call may still
			// move to another target.
			hp := answerHeads.Get().(*answerHead) // read into by an interface: kept off the call's heap
			*hp = answerHead{}
			if cerr := checkAnswer(ctx, resp, hp); cerr != nil {
				resp, err = nil, answerError(cerr, resp)
			}
			head = *hp
			answerHeads.Put(hp)
		}
	}
	if resp != nil && resp.Request != nil && resp.Request.Context() != ctx {
		// A Provider that renamed the model itself (WithModel, its own
		// ModelMap) answers the renamed request: record what it sent.
		if o, ok := resp.Request.Context().Value(outboundKey{}).(*Outbound); ok {
			model = o.Model
		}
	}
	a := Attempt{Target: b.p.Name(), Model: model, Start: start, Latency: headers.Sub(start), TTFT: ttft, Kind: kind}
	switch {
	case err != nil:
		a.Err = attemptError(ctx, err)
	case ctx.Err() != nil:
		// An answer that came after the attempt was given up (a lost hedge,
		// a timeout): it reaches nobody, so it is no success.
		a.Status = resp.StatusCode
		a.Err = attemptError(ctx, ctx.Err())
	default:
		a.Status = resp.StatusCode
	}
	n := c.recordAttempt(ctx, a)
	if err == nil && resp.StatusCode/100 == 2 {
		var body *attemptBody
		if n == 1 {
			body = &c.firstBody // most calls: no allocation
		} else {
			body = new(attemptBody)
		}
		*body = attemptBody{ReadCloser: resp.Body, call: c, n: n, head: head}
		resp.Body = body
	}
	return resp, err
}

// send calls rt and enforces the RoundTripper contract on its answer: never a
// response and an error together, never a nil body, and a final status in
// 200..599 (a 1xx is informational: net/http would send an empty 200 in
// its place, and a status of 0 makes WriteHeader panic), else ErrUpstream.
func send(rt http.RoundTripper, req *http.Request) (*http.Response, error) {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		if resp != nil && resp.Body != nil { // a RoundTripper broke its contract; don't leak
			resp.Body.Close()
		}
		return nil, err
	}
	if resp == nil {
		return nil, ErrInternal.WithMessage("gateway: a RoundTripper returned neither a response nor an error")
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	if resp.StatusCode < 200 || resp.StatusCode > 599 {
		resp.Body.Close()
		return nil, ErrUpstream.WithMessage("gateway: the upstream answered with status " + strconv.Itoa(resp.StatusCode) + ", which cannot end a response")
	}
	return resp, nil
}

// attemptError is the code recorded for a failed attempt: the reason its
// context ended when it did (a timeout's, a lost hedge's, the caller's
// cancellation), else the error's.
func attemptError(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		return ErrorFor(context.Cause(ctx)).Code
	}
	return ErrorFor(err).Code
}

// isEventStreamType reports whether a Content-Type is an event stream's,
// or absent (a streaming call's answer may set none).
func isEventStreamType(ct string) bool {
	return ct == "" || hasPrefixFold(ct, "text/event-stream")
}

// notAStream is the failure of a 2xx answer to a stream call whose
// Content-Type is not an event stream's and in which the hold found no
// content (cause, its error): the message is the hold's (which says when
// an error object came) and names the type that came.
func notAStream(ct string, cause error) error {
	msg := errStreamFailed.Message
	var held *Error
	if errors.As(cause, &held) && held.Code == errStreamFailed.Code {
		msg = held.Message // the hold's, which may say what came
	}
	e := errStreamFailed.withCause(cause)
	e.Message = msg + " (the upstream answered with Content-Type " +
		strconv.Quote(clip(ct, maxEchoed)) + ", not text/event-stream)"
	return e
}

func hasPrefixFold(s, prefix string) bool {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// attemptBody marks its attempt as the one delivered to the caller at the
// first read that returns data or the end.
type attemptBody struct {
	io.ReadCloser
	call *Call
	n    int
	read bool
	head answerHead // replayed first: what the boundary's check read
}

func (b *attemptBody) Read(p []byte) (n int, err error) {
	if b.head.pending() {
		n = b.head.read(p)
	} else {
		n, err = b.ReadCloser.Read(p)
	}
	if !b.read && (n > 0 || err == io.EOF) {
		b.read = true
		b.call.markDelivered(b.n)
	}
	return n, err
}

func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
