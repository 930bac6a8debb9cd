package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// entry is what NewHandler and NewClient share: parse the Call once, bind it
// to the context, dispatch, tap the response for usage and end the call.
type entry struct {
	rt  http.RoundTripper
	cfg config
}

func newEntry(rt http.RoundTripper, opts []Option) *entry {
	if rt == nil {
		panic("gateway: nil RoundTripper")
	}
	return &entry{rt: atBoundary(rt), cfg: newConfig(opts)}
}

// begin parses body into a Call bound to a context derived from parent.
func (e *entry) begin(parent context.Context, op Op, body []byte, start time.Time) (*Call, context.Context, error) {
	// The Call and its parse share one allocation; its id and a short
	// model's bytes share another (callNames), which is all that a string
	// kept after the call keeps alive.
	ca := new(struct {
		Call
		p parsed
	})
	p := &ca.p
	if err := parseInto(p, op, body, e.cfg.limits); err != nil {
		return nil, nil, err
	}
	names := new(callNames)
	// The parser's model may alias the body, which the Outbound hands to
	// every middleware: the Call's model must not change with it, nor keep
	// the body alive.
	if n := len(p.Model); n <= len(names.model) {
		copy(names.model[:], p.Model)
		p.Model = unsafe.String(&names.model[0], n)
	} else {
		p.Model = strings.Clone(p.Model)
	}
	c := &ca.Call // zeroed: set field by field, not by copying a whole Call
	c.Op, c.Model, c.Stream, c.IncludeUsage = op, p.Model, p.Stream, p.IncludeUsage
	c.MaxTokens, c.PromptTokens = p.MaxTokens, p.PromptTokens
	c.clock, c.lim, c.observers = e.cfg.clock, &e.cfg.limits, e.cfg.observers
	c.newID(names)
	c.Start = start
	if caller, ok := parent.Value(callerKey{}).(Caller); ok {
		c.Caller = caller
	}
	c.first = Outbound{Model: c.Model, Body: body, spans: p.spans}
	if c.Stream && !c.IncludeUsage && op.streamUsageOnRequest() {
		// Every stream reports usage, so that every call is metered; the
		// tap removes the usage chunk the caller did not ask for.
		var err error
		if c.first, err = c.first.withIncludeUsage(); err != nil {
			return nil, nil, err
		}
	}
	return c, c.bind(parent), nil
}

// refused ends, at once, a request refused before it became a Call (an
// unknown path, a body too large, malformed JSON): its observers see a Call
// with an ID, the operation, Start and Caller, no model, and the refusal as
// its Result, so that every request the entry point receives is observed
// exactly once.
func (e *entry) refused(parent context.Context, op Op, err error, start time.Time) *Call {
	c := &Call{Op: op, clock: e.cfg.clock, lim: &e.cfg.limits, observers: e.cfg.observers}
	c.newID(new(callNames))
	c.Start = start
	if caller, ok := parent.Value(callerKey{}).(Caller); ok {
		c.Caller = caller
	}
	c.bind(parent)
	c.endResponse(0, err)
	return c
}

// outbound points req (a copy the entry owns) at the first attempt's body.
func (e *entry) outbound(req *http.Request, c *Call) {
	b := c.first.Body
	c.reader.Reset(b)
	req.Body = &c.reader
	req.ContentLength = int64(len(b))
	req.GetBody = c.getBody
	if len(b) == 0 {
		req.Body, req.GetBody = http.NoBody, nil
	}
}

func (c *Call) getBody() (io.ReadCloser, error) { return newBytesBody(c.first.Body), nil }

// dispatch sends req through the chain. A successful response's body is tapped
// for usage; every other response's body ends the call when it ends; an error
// ends the call at once.
//
// In server mode (NewHandler), the entry point writes the body to the caller
// itself and closes it after its last write: a body ends the call only when
// it is closed, so that a caller who left before the answer was delivered is
// a 499 even when the whole answer had been read from upstream. And the
// request context is the server's: cancelled with a cause of its own (a
// shutdown's), it ended the call for that cause, not for a caller who left.
func (e *entry) dispatch(req *http.Request, c *Call, server bool) (*http.Response, error) {
	c.server = server
	returned := false
	defer func() {
		if !returned {
			// A layer below panicked: the call ends, so that its hooks
			// (a Meter's record, a limiter's release) and observers run,
			// and the panic goes on.
			c.endResponse(0, errChainPanicked)
		}
	}()
	resp, err := send(e.rt, req)
	returned = true
	if err == nil && resp.StatusCode/100 == 3 {
		// A redirect is never followed, nor passed on: a client (an SDK's
		// http.Client) would follow it and resend the call elsewhere.
		resp.Body.Close()
		resp, err = nil, errRedirect
	}
	if err == nil && c.retrieve != "" {
		resp, err = pickModel(resp, c.retrieve)
	}
	if err != nil {
		c.endResponse(0, err)
		return nil, err
	}
	// Behind a boundary a provider's answer has lost any mark already; over
	// a chain with none (a hand-built one), it loses it here.
	delete(resp.Header, errorHeader)
	if resp.StatusCode/100 == 2 && c.Op != OpModels {
		c.tap.init(c, resp.Body, resp.StatusCode, c.Stream, e.cfg.maxEventBytes)
		resp.Body = &c.tap
	} else {
		resp.Body = &endBody{ReadCloser: resp.Body, call: c, status: resp.StatusCode} // rare: error statuses, model lists
	}
	return resp, nil
}

// errChainPanicked ends a call whose chain panicked (see dispatch).
var errChainPanicked = ErrInternal.WithMessage("gateway: a layer of the chain panicked")

// endResponse ends the call with the status its caller got (0 when it got
// no response: the error's) and the error, if any, that ended it; the
// caller's own cancellation, or a caller that left (leave), makes it a 499.
// In server mode, a context cancelled with a cause of its own (the server's
// base context at the end of a shutdown, ErrShuttingDown) ended the call for
// that cause, and the caller, who is still there, was told it.
func (c *Call) endResponse(status int, err error) {
	c.mu.Lock()
	gone, sent, failed := c.gone, c.sent, c.failed
	c.mu.Unlock()
	if failed != nil {
		status, err = sent, failed // 0 when no status line was written: the error's
	} else if sent != 0 {
		status = sent
	}
	if gone || errors.Is(err, context.Canceled) && c.ctx.Err() != nil {
		if cause := context.Cause(&c.ctx); c.server && !gone && cause != context.Canceled {
			err = cause
		} else {
			status, err = ErrClientClosed.Status, ErrClientClosed.withCause(err)
		}
	}
	if err != nil {
		err = ErrorFor(err) // what the caller was told; the cause stays reachable
	}
	if status == 0 {
		status = ErrorFor(err).Status
	}
	c.end(status, err)
}

// leave notes that the caller went away before its response was complete.
func (c *Call) leave() {
	c.mu.Lock()
	c.gone = true
	c.mu.Unlock()
}

// wroteStatus notes that the handler wrote status as the caller's status
// line: the upstream's, or its own error's when the upstream's answer
// failed before any of it was sent. The call ends with it (a caller found
// gone before, by leave, still ends it as a 499).
func (c *Call) wroteStatus(status int) {
	c.mu.Lock()
	c.sent = status
	c.mu.Unlock()
}

// failAnswer notes that err failed the answer as the handler copied it (a
// panic in a body's Read, a body that broke its declared length): the call
// ends with it, whatever the body's end
// says, and with the status line written before, if any (a caller found
// gone before still ends it as a 499).
func (c *Call) failAnswer(err error) {
	c.mu.Lock()
	c.failed = err
	c.mu.Unlock()
}

// endBody ends the call when a response that is not tapped (an error status,
// a model list) has been read to its end or closed; in server mode, only
// when it is closed (see dispatch), with the read error that ended it. Close
// may be called concurrently with Read.
type endBody struct {
	io.ReadCloser
	call   *Call
	status int

	mu      sync.Mutex
	readErr error // in server mode: the error that ended the body
}

func (b *endBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		if !b.call.server {
			b.finish(err)
		} else {
			b.mu.Lock()
			if b.readErr == nil {
				b.readErr = err
			}
			b.mu.Unlock()
		}
	}
	return n, err
}

func (b *endBody) Close() error {
	err := b.ReadCloser.Close()
	b.mu.Lock()
	readErr := b.readErr
	b.mu.Unlock()
	b.finish(readErr)
	return err
}

// finish ends the call; only the first end of a call counts.
func (b *endBody) finish(err error) {
	if err == io.EOF {
		err = nil
	}
	b.call.endResponse(b.status, err)
}
