package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync"

	"github.com/llmgate/gateway/internal/sse"
)

// maxHeldBytes bounds what the attempt boundary holds back before a stream's
// first content event; a stream that sends more without content fails.
const maxHeldBytes = 1 << 20

// errStreamFailed is the failure of a stream that ended, broke or reported an
// error before its first content event: nothing reached the caller, so the
// call may be retried or moved to another target. It is an upstream failure
// (errors.Is ErrUpstream) with a code of its own.
var errStreamFailed = func() *Error {
	e := ErrUpstream.WithMessage("gateway: stream failed before its first content")
	e.Code = "stream_failed_before_content"
	return e
}()

// errStreamErrorEvent is the failure of a stream whose upstream sent an
// error event before its first content. What the event says is not
// repeated: it is an upstream's, which no provider's sanitizer saw, and
// may name its account.
var errStreamErrorEvent = errStreamFailed.WithMessage(errStreamFailed.Message + ": the upstream sent an error event")

// errStreamErrorObject is the failure of a stream call answered with an
// upstream's error object (judgeHead) where a stream was due; its words are
// not repeated either (see errAnswerErrorObject).
var errStreamErrorObject = errStreamFailed.WithMessage(errStreamFailed.Message + ": the upstream sent an error object")

// holdFirstContent holds back a 2xx answer to a stream call (an event
// stream, whatever its Content-Type says: see boundary.RoundTrip) until its
// first content event (see isFirstContent) or its [DONE] (a stream that ends
// cleanly is the model's answer, even an empty one), and returns a response
// whose body replays what was held and continues with the rest of the
// upstream body, with no further buffering.
//
// If the stream ends or breaks before that, reports an error event or sends
// more than maxHeldBytes without content, the body is closed and an error
// deriving from ErrUpstream (code stream_failed_before_content) is returned,
// wrapping the cause. If ctx ends first (a caller leaving, a timeout
// cancelling the attempt) the body is closed and ctx.Err() returned. It
// starts no goroutine.
func holdFirstContent(ctx context.Context, resp *http.Response) (*http.Response, error) {
	h := &held{body: resp.Body}
	if c := CallFrom(ctx); c != nil && c.Op.anthropic() {
		h.first = firstMessagesContent
	}
	// A callback that runs after the scan finds done set and leaves the body.
	unregister := context.AfterFunc(ctx, h.cut)
	err := h.scan()
	h.finish()
	unregister()
	if err != nil {
		resp.Body.Close()
		if judgeHead(h.rec) == headErrorObject {
			err = errStreamErrorObject.withCause(err)
		}
		putHeldBuf(h.recp, h.rec) // after the body's close: no read of it is running
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	resp.Body = &replayBody{held: h.rec, rec: h.rec, recp: h.recp, body: resp.Body}
	return resp, nil
}

// heldBufs holds the holds' buffers between streams (see tapBufs): a
// stream's first event is read into memory already in use.
var heldBufs = sync.Pool{New: func() any { b := make([]byte, heldReadSize); return &b }}

// putHeldBuf gives b back in bp, the pointer it came in (no allocation).
func putHeldBuf(bp *[]byte, b []byte) {
	if cap(b) == heldReadSize { // one that grew is left to the collector
		*bp = b[:0]
		heldBufs.Put(bp)
	}
}

// held is one wait for a stream's first content event.
type held struct {
	body  io.ReadCloser
	first func(data []byte) (done bool, err error) // nil: firstContent (OpenAI's format)
	rec   []byte                                   // every byte read from body so far
	recp  *[]byte                                  // rec's pointer in heldBufs, which it goes back in

	mu   sync.Mutex
	done bool // scan finished, or the body was cut
}

// read reads more of body onto rec.
func (h *held) read() error {
	if len(h.rec) == cap(h.rec) {
		h.rec = slices.Grow(h.rec, len(h.rec))
	}
	n, err := h.body.Read(h.rec[len(h.rec):cap(h.rec)])
	h.rec = h.rec[:len(h.rec)+n]
	if err == nil && len(h.rec) > maxHeldBytes {
		err = errors.New("gateway: over 1 MiB of stream without content")
	}
	return err
}

// cut closes the body to unblock the scan, unless the scan has finished.
func (h *held) cut() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.done {
		h.done = true
		h.body.Close()
	}
}

func (h *held) finish() {
	h.mu.Lock()
	h.done = true
	h.mu.Unlock()
}

// heldReadSize is the first read of a held stream: a first content event is
// far smaller.
const heldReadSize = 4 << 10

// scan reads events until the first content event or [DONE] (nil), or a
// failure. It reads into rec, which is what is replayed, and finds the
// events there, by the rules internal/sse.Reader follows (lines end in
// "\n" or "\r\n", a blank line ends an event with data, "data" lines are
// joined with "\n", other fields and comments are skipped): no second copy
// of the bytes, and a one-line event, the usual kind, is read where it lies.
func (h *held) scan() error {
	h.recp = heldBufs.Get().(*[]byte)
	h.rec = (*h.recp)[:0]
	var (
		pos      int    // start of the first line not yet parsed
		seen     int    // rec[pos:seen] holds no line end
		hasData  bool   // the event being parsed has a data line
		from, to int    // its one data line's value, in rec
		joined   []byte // its data, once it has more than one line
		rerr     error  // the last read's error, once what it read is parsed
	)
	for {
		for {
			i := bytes.IndexByte(h.rec[seen:], '\n')
			if i < 0 {
				seen = len(h.rec)
				break
			}
			start := pos
			line := h.rec[pos : seen+i]
			pos = seen + i + 1
			seen = pos
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			if len(line) == 0 {
				if !hasData {
					continue
				}
				data := joined
				if data == nil {
					data = h.rec[from:to]
				}
				hasData, joined = false, nil
				first := h.first
				if first == nil {
					first = firstContent
				}
				if done, err := first(data); done || err != nil {
					return err
				}
				continue
			}
			field, value, _ := bytes.Cut(line, []byte(":"))
			if string(field) != "data" {
				continue
			}
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
			if !hasData {
				hasData = true
				to = start + len(line)
				from = to - len(value)
				continue
			}
			if joined == nil {
				joined = append([]byte(nil), h.rec[from:to]...)
			}
			joined = append(append(joined, '\n'), value...)
		}
		if rerr != nil {
			if rerr == io.EOF {
				rerr = io.ErrUnexpectedEOF // ended without [DONE] or a finish_reason
			}
			return errStreamFailed.withCause(rerr)
		}
		rerr = h.read()
	}
}

// firstContent reports whether the event of data ends the hold: it is
// [DONE] or content (done), or an error event (err).
func firstContent(data []byte) (done bool, err error) {
	if bytes.Equal(data, sse.Done) {
		return true, nil
	}
	info, ok := inspectChunk(data)
	switch {
	case !ok: // not JSON: no content; forwarded with the rest
	case info.isError:
		return true, errStreamErrorEvent
	case info.content:
		return true, nil
	}
	return false, nil
}

// firstMessagesContent is firstContent for an Anthropic Messages stream:
// content (inspectMessagesEvent) or message_stop ends the hold, an error
// event fails it.
func firstMessagesContent(data []byte) (done bool, err error) {
	info, end, ok := inspectMessagesEvent(data)
	switch {
	case !ok:
	case info.isError:
		return true, errStreamErrorEvent
	case info.content || end:
		return true, nil
	}
	return false, nil
}

// replayBody returns the bytes held back, then the rest of the upstream
// body. Close closes the upstream body; it may be called concurrently with
// Read. The hold's buffer goes back to heldBufs once Read has replayed it.
type replayBody struct {
	held []byte  // what is left to replay, in rec
	rec  []byte  // the hold's buffer; nil once given back
	recp *[]byte // its pointer in heldBufs
	body io.ReadCloser
}

func (b *replayBody) Read(p []byte) (int, error) {
	if len(b.held) > 0 {
		n := copy(p, b.held)
		b.held = b.held[n:]
		if len(b.held) == 0 {
			putHeldBuf(b.recp, b.rec)
			b.held, b.rec, b.recp = nil, nil, nil
		}
		return n, nil
	}
	return b.body.Read(p)
}

func (b *replayBody) Close() error { return b.body.Close() }
