package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// NewHandler returns the server-mode entry point over rt (a chain of
// middlewares over a Provider): an OpenAI-compatible http.Handler for POST
// /v1/chat/completions, /v1/completions, /v1/embeddings and /v1/responses
// and GET /v1/models and /v1/models/{id} (a model's entry of that list, or
// 404 model_not_found; NewClient answers it too), and Anthropic's POST
// /v1/messages and /v1/messages/count_tokens in Anthropic's format (errors
// included, see messages.go), which serves every request through rt. When
// rt is a bare Provider it is put behind an attempt boundary, as Chain
// does.
//
// Bad input gets an OpenAI-style error and nothing else happens: a body over
// the size limit gets 413 before it is read, malformed JSON or a missing
// model 400, an unknown path 404, a wrong method 405 (HEAD is served as GET
// without a body). A body cut short or badly framed gets 400, one that did
// not arrive within the server's ReadTimeout 408: the caller's faults, never
// dispatched. Bodies are read as their bytes arrive, and all those held at
// once are bounded (Limits.MaxBodyBytesInFlight): past it a request gets 503
// with Retry-After. A caller that
// disconnects cancels the upstream call. Streams are forwarded and flushed
// as each read of the upstream returns, never buffered; a stream that fails
// after its status was sent ends with a terminal error event and no [DONE].
//
// Only the caller's credentials (Authorization, Api-Key, X-Api-Key),
// content negotiation headers, Idempotency-Key (X-Idempotency-Key), which
// Retry and the router may read, Anthropic-Beta, X-Forwarded-For, with the
// peer's address as the request's RemoteAddr, which authentication reads,
// and X-Llmgate-Cache, which the response cache reads, reach rt; providers
// build their upstream headers anew, credentials their own, so a virtual
// key never goes upstream.
//
// The gateway's own errors carry the header X-Llmgate-Error (see
// ErrorFromResponse). It panics if rt is nil or an option is invalid
// (Limits.Validate). The handler is safe for concurrent use.
func NewHandler(rt http.RoundTripper, opts ...Option) http.Handler {
	h := &handler{e: newEntry(rt, opts)}
	h.bodies.max = h.e.cfg.limits.MaxBodyBytesInFlight
	return h
}

type handler struct {
	e      *entry
	bodies bodyBudget // the request bodies held by calls in flight
}

// forwardedHeaders are the only inbound headers passed to rt.
var forwardedHeaders = []string{"Authorization", "Api-Key", "X-Api-Key", "Content-Type", "Accept",
	"Idempotency-Key", "X-Idempotency-Key", // read by Retry and the router (breaker.DefaultIdempotent)
	"Anthropic-Beta",  // the features a Messages call asks for; provider.Anthropic passes them on
	"X-Forwarded-For", // read by authentication, from trusted proxies only
	"X-Llmgate-Cache"} // read by the response cache (cache.HeaderCache), which removes it; providers send none of these upstream

// forwardedHint sizes the map of the headers forwarded: a caller sends a
// few of them (a key, Content-Type, Accept), and a map sized for at most 8
// is one small allocation, where one sized for all of forwardedHeaders is a
// table of its own.
const forwardedHint = 4

// copiedHeaders are the only response headers passed back to the caller.
var copiedHeaders = []string{"Content-Type", "Retry-After", "Retry-After-Ms"}

var routes = map[string]struct {
	op     Op
	method string
}{
	"/v1/chat/completions": {OpChat, http.MethodPost},
	"/v1/completions":      {OpCompletion, http.MethodPost},
	"/v1/embeddings":       {OpEmbedding, http.MethodPost},
	"/v1/models":           {OpModels, http.MethodGet},
	"/v1/responses":        {OpResponses, http.MethodPost},
	// Anthropic's format (messages.go)
	"/v1/messages":              {OpMessages, http.MethodPost},
	"/v1/messages/count_tokens": {OpCountTokens, http.MethodPost},
}

var upstreamURL = url.URL{Scheme: "http", Host: "gateway.invalid"}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.e.cfg.clock.Now() // the call's Start: before its body is read
	route, ok := routes[r.URL.Path]
	retrieve := ""
	if !ok {
		if prefix, id, isGet := modelIDFromPath(r.URL.Path); isGet && prefix == "" {
			route, ok, retrieve = routes[modelsPath], true, id
		}
	}
	if !ok {
		h.refuse(w, r, OpUnknown, ErrNotFound.WithMessage("gateway: unknown path "+clip(strings.ToValidUTF8(r.URL.Path, "?"), maxEchoed)), start)
		return
	}
	// HEAD is GET without a body (net/http drops what is written).
	if r.Method != route.method && (r.Method != http.MethodHead || route.method != http.MethodGet) {
		w.Header().Set("Allow", route.method)
		h.refuse(w, r, route.op, ErrMethodNotAllowed.WithMessage("gateway: "+r.URL.Path+" takes "+route.method), start)
		return
	}
	lim := h.e.cfg.limits.MaxBodyBytes
	var body []byte
	if route.method == http.MethodPost {
		if r.ContentLength > lim {
			h.refuse(w, r, route.op, ErrBodyTooLarge.WithMessage(bodyTooLargeMsg(lim)), start)
			return
		}
		var held int64
		var err error
		if body, held, err = readServerBody(r.Body, r.ContentLength, lim, &h.bodies); err != nil {
			h.refuse(w, r, route.op, bodyReadError(err, r.ContentLength < 0), start)
			return
		}
		// Held until the call is over: the Outbound, and so every attempt
		// and replay, sends these bytes.
		defer h.bodies.release(held)
	}
	c, ctx, err := h.e.begin(r.Context(), route.op, body, start)
	if err != nil {
		h.refuse(w, r, route.op, err, start)
		return
	}
	c.retrieve = retrieve
	u := upstreamURL
	u.Path = r.URL.Path
	if retrieve != "" {
		u.Path = modelsPath // providers are asked for the list
	}
	// base stays on the stack: WithContext's copy is the one request made.
	base := http.Request{Method: route.method, URL: &u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: make(http.Header, forwardedHint), Host: u.Host, RemoteAddr: r.RemoteAddr}
	for _, k := range forwardedHeaders {
		if v := r.Header.Values(k); len(v) > 0 {
			base.Header[k] = v
		}
	}
	out := base.WithContext(ctx)
	h.e.outbound(out, c)

	resp, err := h.e.dispatch(out, c, true)
	if err != nil {
		if ctx := r.Context(); ctx.Err() != nil {
			if err = context.Cause(ctx); err == context.Canceled {
				return // the caller left; nobody to tell
			}
			// The server ended the call (a shutdown's cause): tell the caller.
		}
		w.Header().Set("X-Request-Id", c.ID)
		c.writeHeaders(w.Header())
		writeOpError(w, c.Op, err)
		return
	}
	defer resp.Body.Close() // ends the call
	copied := false
	defer func() {
		if !copied {
			// Copying the answer panicked: the call ends as failed when the
			// body is closed, not as complete, with the status the caller
			// got, if any; the panic goes on.
			c.failAnswer(errAnswerPanicked)
		}
	}()
	for _, k := range h.e.cfg.respHeaders {
		if v := resp.Header.Values(k); len(v) > 0 {
			w.Header()[k] = v
		}
	}
	c.writeHeaders(w.Header())
	w.Header().Set("X-Request-Id", c.ID)
	if !bodyAllowed(resp.StatusCode) {
		// net/http sends no body with this status (a 204) and refuses a
		// write of one: what the upstream sent with it is not read (its
		// failure would be no failure of the answer) but closed, and no
		// header describes a body.
		w.Header().Del("Content-Type")
		writeStatus(w, c, resp.StatusCode)
		copied = true
		return
	}
	stream := c.Stream && resp.StatusCode/100 == 2
	if stream {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Accel-Buffering", "no")
	}
	length := resp.ContentLength // as declared; -1 when unknown
	if resp.Uncompressed {
		length = -1 // the transport's decompression: the declared length is of the compressed bytes
	}
	abort := h.copyBody(w, resp.StatusCode, resp.Body, length, stream, c)
	copied = true
	if abort {
		panic(http.ErrAbortHandler) // the caller's client sees the failure
	}
}

// errAnswerPanicked ends a call whose answer's copy panicked (ServeHTTP).
var errAnswerPanicked = ErrInternal.WithMessage("gateway: copying the answer panicked")

// refuse answers a request the entry point refuses before it is a Call, and
// tells the observers about it.
func (h *handler) refuse(w http.ResponseWriter, r *http.Request, op Op, err error, start time.Time) {
	c := h.e.refused(r.Context(), op, err, start)
	w.Header().Set("X-Request-Id", c.ID)
	writeOpError(w, op, err)
}

// maxEchoed bounds what of a caller's input an error message repeats.
const maxEchoed = 128

// clip cuts s to at most n bytes, on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyBody writes the status line and forwards the response body. A
// stream is flushed after every read of the upstream, so each event reaches
// the caller as it arrives; its headers are not flushed on their own: the
// attempt boundary held it until its first content, which copyBody reads at
// once and flushes with them, in one write. A non-stream answer that fits
// the copy buffer (most do) is read whole first and sent with its
// Content-Length in one flushed write, so the caller has all of it before
// the call's end-of-call work (the OnEnd hooks and the observers, run when
// ServeHTTP closes the body) begins: that work adds nothing to the caller's
// latency. A larger one is copied as it comes, with the length its
// upstream declared (length; -1 when none) unless the first buffer already
// contradicts it, and flushed at its end, so that it too is complete before
// that work; without a length it goes chunked, and its end waits for the
// work. The bytes are held to a length sent (lengthCheck): an answer that
// ends before it or runs past it fails as the upstream's, and its last byte
// is sent only once the upstream's end is read. Each write must
// end within the write timeout; the deadline is set again only once a
// quarter of it has passed, so a write has at least three quarters of it,
// and a stream of many small events does not move the connection's
// deadline (a runtime timer) for each. It reports whether the response must
// be aborted: a non-stream answer cut or broken after part of it was sent,
// which must not look complete (ServeHTTP aborts it, once it knows the copy
// did not panic).
func (h *handler) copyBody(w http.ResponseWriter, status int, body io.Reader, length int64, stream bool, c *Call) (abort bool) {
	rc := http.NewResponseController(w)
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	buf := *bp
	timeout := h.e.cfg.writeTimeout
	var armed time.Time // when the write deadline was last set
	var n int
	var rerr error
	held := lengthCheck{declared: -1} // the Content-Length sent for a large answer, if any
	if stream {
		writeStatus(w, c, status)
		n, rerr = body.Read(buf)
	} else {
		var whole []byte
		whole, rerr = fill(body, buf[:0])
		n = len(whole)
		if rerr != io.EOF && rerr != nil && h.answerCut(w, rerr, c) {
			return
		}
		if rerr == io.EOF { // all of it
			w.Header().Set("Content-Length", strconv.Itoa(n))
			writeStatus(w, c, status)
			if timeout > 0 {
				_ = rc.SetWriteDeadline(time.Now().Add(timeout))
			}
			if _, err := w.Write(buf[:n]); err != nil {
				c.leave()
				return
			}
			if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
				c.leave()
			}
			return
		}
		if length >= int64(n) { // a full buffer read, not its end: the length is plausible
			w.Header().Set("Content-Length", strconv.FormatInt(length, 10))
			held = lengthCheck{declared: length}
		}
		writeStatus(w, c, status)
	}
	for {
		if !held.take(n, rerr == io.EOF) {
			c.failAnswer(held.err())
			return true
		}
		n = held.holdLast(buf, n, rerr == io.EOF)
		if n > 0 {
			if timeout > 0 {
				if now := time.Now(); now.Sub(armed) >= timeout/4 {
					_ = rc.SetWriteDeadline(now.Add(timeout))
					armed = now
				}
			}
			if _, err := w.Write(buf[:n]); err != nil {
				c.leave()
				return // the caller is gone; closing the body cancels upstream
			}
			if stream {
				if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
					c.leave()
					return
				}
			}
		}
		if rerr == io.EOF {
			if !stream { // the end of a large answer: the caller has it before the end-of-call work
				if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
					c.leave()
				}
			}
			return
		}
		if rerr != nil {
			if c.ctx.Err() != nil {
				cause := context.Cause(&c.ctx)
				if cause == context.Canceled { // the caller left; nobody to tell
					if !c.tap.complete() { // after [DONE] it left with its whole answer
						c.leave()
					}
					return
				}
				// The server ended the call (its base context was
				// cancelled with a cause, as at the end of a shutdown):
				// the caller is still there, and is told why.
				rerr = cause
			}
			if !stream {
				// A cut JSON body must not look complete: the response is
				// aborted.
				return true
			}
			_, _ = w.Write(appendOpErrorEvent(nil, c.Op, rerr))
			_ = rc.Flush()
			return
		}
		n, rerr = body.Read(buf)
	}
}

// lengthCheck holds a large answer's bytes to the Content-Length sent
// with it (declared; -1 when none was, and nothing is checked). net/http's
// transport already holds an upstream body to its length; a provider that
// rewrote a body and kept the upstream's length would otherwise send the
// caller a body that ends early, which its client reports as a broken
// connection while the call looked complete, or one that runs past it,
// which net/http refuses mid-write, and the call would look like a caller
// who left.
type lengthCheck struct {
	declared, sent int64
	last           byte // the declared length's last byte, while holding
	holding        bool
}

// take counts n more bytes read to be sent, the last ones when end. It
// reports false when they break the length: more than declared, or fewer at
// the end.
func (l *lengthCheck) take(n int, end bool) bool {
	if l.declared < 0 {
		return true
	}
	l.sent += int64(n)
	return l.sent <= l.declared && (!end || l.sent == l.declared)
}

// holdLast returns how many of the n bytes just read into buf (and taken) to
// write now. The declared length's last byte is held back until the
// upstream's end confirms it: with every declared byte sent, the caller's
// client has a complete answer, so one found to run past its length after
// that could no longer be aborted, and a caller who hung up, whole answer
// in hand, before the upstream's end was read would end the call as a 499.
// At the end (n is then 0, or the byte was never held) the held byte is
// put in buf[0] and written.
func (l *lengthCheck) holdLast(buf []byte, n int, end bool) int {
	switch {
	case l.holding && end:
		buf[0], l.holding = l.last, false
		return 1
	case !l.holding && !end && n > 0 && l.declared >= 0 && l.sent == l.declared:
		l.last, l.holding = buf[n-1], true
		return n - 1
	}
	return n
}

// err is the failure of an answer that broke its length.
func (l *lengthCheck) err() error {
	what := "ran past"
	if l.sent < l.declared {
		what = "ended at " + strconv.FormatInt(l.sent, 10) + " bytes, short of"
	}
	return ErrUpstream.WithMessage("gateway: the upstream's answer " + what + " the " +
		strconv.FormatInt(l.declared, 10) + " bytes its Content-Length declared")
}

// answerCut answers a non-stream call whose upstream answer failed (rerr)
// before any of it was sent: a caller still there gets the gateway's error
// in its API's shape (a 502 for a body cut short, the cause for a call the
// server ended), which the call ends with, instead of a status line and a
// broken body. The error carries none of the upstream's headers (a 429's
// Retry-After), only the call's own. It reports false when the caller
// left: nobody to tell; a caller found gone as the error is sent ends the
// call as a 499.
func (h *handler) answerCut(w http.ResponseWriter, rerr error, c *Call) bool {
	if c.ctx.Err() != nil {
		cause := context.Cause(&c.ctx)
		if cause == context.Canceled {
			return false // copyBody's read-error path records the leaving
		}
		rerr = cause // the server ended the call: the caller is told why
	}
	hdr := w.Header()
	for _, k := range h.e.cfg.respHeaders {
		delete(hdr, k)
	}
	c.writeHeaders(hdr) // the call's own, which the upstream's may have shadowed
	e := ErrorFor(rerr)
	c.wroteStatus(e.Status)
	writeOpError(w, c.Op, e)
	// Sent now, not when ServeHTTP returns: a caller gone by now (its
	// connection broken before its context is cancelled) never got the
	// error, and the call ends as its leaving.
	if err := http.NewResponseController(w).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		c.leave()
	}
	return true
}

// writeStatus writes the caller's status line, which the call ends with.
func writeStatus(w http.ResponseWriter, c *Call, status int) {
	w.WriteHeader(status)
	c.wroteStatus(status)
}

// bodyAllowed reports whether a response with status may carry a body,
// and so a Content-Length (RFC 9110, 8.6).
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}
