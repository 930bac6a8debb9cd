package gatewaytest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/jsonstr"
)

var errSimBodyClosed = errors.New("provider: read on a closed sim response body")

// Header values shared by every response, to save an allocation each. Their
// length equals their capacity, so Header.Add copies rather than writes
// through; Header.Set replaces the slice.
var (
	jsonContentType = []string{"application/json"}
	sseContentType  = []string{"text/event-stream"}
)

// simJSON is a non-stream response and its body in one allocation.
type simJSON struct {
	resp http.Response
	body jsonBody
}

// jsonBody is a whole JSON response. Read fails with the context's error once
// the request context ends, as a real response body does; Close may be
// called concurrently with Read.
type jsonBody struct {
	ctx    context.Context
	buf    []byte
	off    int
	closed atomic.Bool
	arr    [1024]byte // most bodies fit here
}

func (b *jsonBody) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, errSimBodyClosed
	}
	if b.off >= len(b.buf) {
		return 0, io.EOF
	}
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	n := copy(p, b.buf[b.off:])
	b.off += n
	return n, nil
}

func (b *jsonBody) Close() error {
	b.closed.Store(true)
	return nil
}

// newJSON starts a JSON response with status; the caller appends the body to
// r.body.buf and calls done.
func (s *Sim) newJSON(req *http.Request, status int) *simJSON {
	r := &simJSON{}
	r.body.ctx = req.Context()
	r.body.buf = r.body.arr[:0]
	r.resp = http.Response{
		Status: statusLine(status), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": jsonContentType},
		Request: req,
	}
	s.setRateLimitHeaders(r.resp.Header)
	return r
}

func (r *simJSON) done() *http.Response {
	r.resp.Body = &r.body
	r.resp.ContentLength = int64(len(r.body.buf))
	return &r.resp
}

func statusLine(status int) string {
	if status == http.StatusOK {
		return "200 OK"
	}
	return strconv.Itoa(status) + " " + http.StatusText(status)
}

func (s *Sim) setRateLimitHeaders(h http.Header) {
	if s.rlHook == nil {
		return
	}
	req, tok := s.rlHook()
	h.Set("X-Ratelimit-Remaining-Requests", strconv.Itoa(req))
	h.Set("X-Ratelimit-Remaining-Tokens", strconv.Itoa(tok))
}

// simStream is a stream response and its body in one allocation.
type simStream struct {
	resp http.Response
	body streamBody
}

// Stream states, in order.
const (
	stBegin  uint8 = iota // before TTFT (and the role chunk)
	stTokens              // content events
	stFinish              // the finish_reason chunk
	stUsage               // the usage-only chunk
	stDone                // [DONE]
	stEOF
)

// streamBody generates a stream's events lazily, as it is read: no goroutine
// and, unless the Sim paces its events, no timer. A Read blocked on pacing or
// a stall returns the context's error when the request context ends and
// errSimBodyClosed when Close is called (concurrently, as net/http allows).
// Reads must not be concurrent with each other.
type streamBody struct {
	sim  *Sim
	ctx  context.Context
	chat bool
	// responses: the Responses API's event grammar (sim_responses.go);
	// prefix then holds the model as a JSON string.
	responses bool
	seq       int    // the next event's sequence_number
	respID    uint64 // the response's id
	n         int    // content events to send
	sent      int    // content events sent
	cutAt     int    // content events before a cut; -1 = none
	prompt    int
	stall     bool
	state     uint8
	prefix    []byte // every chunk's JSON up to and including `"choices":[`
	buf       []byte // generated, not yet read
	off       int
	err       error // sticky, returned once buf is drained

	closed atomic.Bool
	done   chan struct{} // closed by Close; nil when Read never blocks

	prefixArr [192]byte
	bufArr    [4096]byte
}

func (s *Sim) streamResponse(req *http.Request, sc *simCall, d drawn) *http.Response {
	r := &simStream{}
	b := &r.body
	b.sim, b.ctx, b.chat = s, req.Context(), sc.op == gateway.OpChat
	b.responses = sc.op == gateway.OpResponses
	b.n, b.prompt, b.cutAt = s.ReplyTokens(sc.maxTokens), sc.prompt, -1
	switch d.kind {
	case faultStall:
		b.stall = true
	case faultCut:
		b.cutAt = min(d.cutAfter, b.n)
	}
	if b.stall || s.ttft > 0 || s.interval > 0 {
		b.done = make(chan struct{})
	}
	if b.responses {
		b.respID = nextID()
		b.prefix = jsonstr.Append(b.prefixArr[:0], sc.model)
	} else {
		b.prefix = b.appendPrefix(b.prefixArr[:0], sc.model)
	}
	b.buf = b.bufArr[:0]
	r.resp = http.Response{
		Status: "200 OK", StatusCode: http.StatusOK,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": sseContentType},
		Body:          b,
		ContentLength: -1,
		Request:       req,
	}
	s.setRateLimitHeaders(r.resp.Header)
	return &r.resp
}

func (b *streamBody) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, errSimBodyClosed
	}
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	for b.off >= len(b.buf) {
		if b.err != nil {
			return 0, b.err
		}
		b.buf, b.off = b.buf[:0], 0
		b.err = b.fill()
	}
	n := copy(p, b.buf[b.off:])
	b.off += n
	return n, nil
}

// Close ends the stream; it unblocks a Read waiting on pacing or a stall.
func (b *streamBody) Close() error {
	if b.closed.CompareAndSwap(false, true) && b.done != nil {
		close(b.done)
	}
	return nil
}

// fill generates events into the empty buf until the next might not fit in
// its inline array (so at most about 4 KiB are generated ahead of the
// reader), the next event must wait, or the stream ends. An error is
// returned with what was generated before it, which Read hands out first.
func (b *streamBody) fill() error {
	s := b.sim
	limit := len(b.bufArr) - len(b.prefix) - s.maxToken - 128 // room for any one event
	for len(b.buf) == 0 || len(b.buf) < limit {
		switch b.state {
		case stBegin:
			if b.stall {
				select {
				case <-b.ctx.Done():
					return b.ctx.Err()
				case <-b.done:
					return errSimBodyClosed
				}
			}
			if err := b.wait(s.ttft); err != nil {
				return err
			}
			switch {
			case b.responses:
				b.buf = b.appendResponsesBegin(b.buf)
			case b.chat:
				b.buf = append(b.buf, "data: "...)
				b.buf = append(b.buf, b.prefix...)
				b.buf = append(b.buf, `{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`+"\n\n"...)
			}
			b.state = stTokens
		case stTokens:
			if b.sent == b.cutAt {
				return io.ErrUnexpectedEOF
			}
			if b.sent == b.n {
				b.state = stFinish
				continue
			}
			if b.sent > 0 && s.interval > 0 {
				if len(b.buf) > 0 {
					return nil // deliver what is due before pacing the next
				}
				if err := b.wait(s.interval); err != nil {
					return err
				}
			}
			if b.responses {
				b.buf = b.appendResponsesDelta(b.buf, b.sent)
				b.sent++
				continue
			}
			b.buf = append(b.buf, "data: "...)
			b.buf = append(b.buf, b.prefix...)
			if b.chat {
				b.buf = append(b.buf, `{"index":0,"delta":{"content":"`...)
				b.buf = append(b.buf, s.token(b.sent)...)
				b.buf = append(b.buf, `"},"logprobs":null,"finish_reason":null}]}`+"\n\n"...)
			} else {
				b.buf = append(b.buf, `{"text":"`...)
				b.buf = append(b.buf, s.token(b.sent)...)
				b.buf = append(b.buf, `","index":0,"logprobs":null,"finish_reason":null}]}`+"\n\n"...)
			}
			b.sent++
		case stFinish:
			if b.responses {
				b.buf = b.appendResponsesFinish(b.buf)
				b.state = stUsage
				continue
			}
			b.buf = append(b.buf, "data: "...)
			b.buf = append(b.buf, b.prefix...)
			if b.chat {
				b.buf = append(b.buf, `{"index":0,"delta":{},"logprobs":null,"finish_reason":"`...)
			} else {
				b.buf = append(b.buf, `{"text":"","index":0,"logprobs":null,"finish_reason":"`...)
			}
			b.buf = append(b.buf, s.finishReason(b.n)...)
			b.buf = append(b.buf, `"}]}`+"\n\n"...)
			b.state = stUsage
		case stUsage:
			if b.responses { // its last event; no [DONE]
				b.buf = b.appendResponsesCompleted(b.buf)
				b.state = stEOF
				continue
			}
			b.buf = append(b.buf, "data: "...)
			b.buf = append(b.buf, b.prefix...)
			b.buf = append(b.buf, "],"...)
			b.buf = appendUsage(b.buf, b.prompt, b.sent)
			b.buf = append(b.buf, "}\n\n"...)
			b.state = stDone
		case stDone:
			b.buf = gateway.AppendDone(b.buf)
			b.state = stEOF
		default:
			return io.EOF
		}
	}
	return nil
}

// wait blocks for d on the Sim's clock; a d of zero returns at once.
func (b *streamBody) wait(d time.Duration) error {
	if d <= 0 {
		return nil
	}
	fire, stop := b.sim.clock.NewTimer(d)
	select {
	case <-fire:
		return nil
	case <-b.ctx.Done():
		stop()
		return b.ctx.Err()
	case <-b.done:
		stop()
		return errSimBodyClosed
	}
}

// appendPrefix appends what every chunk of the stream starts with.
func (b *streamBody) appendPrefix(dst []byte, model string) []byte {
	if b.chat {
		dst = append(dst, `{"id":"chatcmpl-sim`...)
	} else {
		dst = append(dst, `{"id":"cmpl-sim`...)
	}
	dst = strconv.AppendUint(dst, nextID(), 10)
	if b.chat {
		dst = append(dst, `","object":"chat.completion.chunk","created":`...)
	} else {
		dst = append(dst, `","object":"text_completion","created":`...)
	}
	dst = strconv.AppendInt(dst, b.sim.clock.Now().Unix(), 10)
	dst = append(dst, `,"model":`...)
	dst = jsonstr.Append(dst, model)
	return append(dst, `,"system_fingerprint":null,"choices":[`...)
}
