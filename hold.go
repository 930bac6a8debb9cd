package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
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

// holdFirstContent holds back a 2xx event stream until its first content
// event (see isFirstContent) or its [DONE] (a stream that ends cleanly is the
// model's answer, even an empty one), and returns a response whose body
// replays what was held and continues with the rest of the upstream body,
// with no further buffering.
//
// If the stream ends or breaks before that, reports an error event or sends
// more than maxHeldBytes without content, the body is closed and an error
// deriving from ErrUpstream (code stream_failed_before_content) is returned,
// wrapping the cause. If ctx ends first (a caller leaving, a timeout
// cancelling the attempt) the body is closed and ctx.Err() returned. It
// starts no goroutine.
func holdFirstContent(ctx context.Context, resp *http.Response) (*http.Response, error) {
	h := &held{body: resp.Body}
	// A callback that runs after the scan finds done set and leaves the body.
	unregister := context.AfterFunc(ctx, h.cut)
	err := h.scan()
	h.finish()
	unregister()
	if err != nil {
		resp.Body.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	resp.Body = &replayBody{held: h.rec.Bytes(), body: resp.Body}
	return resp, nil
}

// held is one wait for a stream's first content event.
type held struct {
	body io.ReadCloser
	rec  bytes.Buffer // every byte read from body so far

	mu   sync.Mutex
	done bool // scan finished, or the body was cut
}

// Read reads body into p and records what it read.
func (h *held) Read(p []byte) (int, error) {
	n, err := h.body.Read(p)
	h.rec.Write(p[:n])
	if err == nil && h.rec.Len() > maxHeldBytes {
		err = errors.New("gateway: over 1 MiB of stream without content")
	}
	return n, err
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

// scan reads events until the first content event or [DONE] (nil), or a
// failure.
func (h *held) scan() error {
	r := sse.NewReader(h, 0)
	for {
		ev, err := r.Next()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF // ended without [DONE] or a finish_reason
			}
			return errStreamFailed.withCause(err)
		}
		if ev.IsDone() {
			return nil
		}
		info, ok := inspectChunk(ev.Data)
		switch {
		case !ok: // not JSON: no content; forwarded with the rest
		case info.isError:
			return errStreamFailed.withCause(errors.New("gateway: upstream sent an error event"))
		case info.content:
			return nil
		}
	}
}

// replayBody returns the bytes held back, then the rest of the upstream
// body. Close closes the upstream body; it may be called concurrently with
// Read.
type replayBody struct {
	held []byte
	body io.ReadCloser
}

func (b *replayBody) Read(p []byte) (int, error) {
	if len(b.held) > 0 {
		n := copy(p, b.held)
		b.held = b.held[n:]
		return n, nil
	}
	return b.body.Read(p)
}

func (b *replayBody) Close() error { return b.body.Close() }
