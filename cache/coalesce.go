package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/hooks"
)

// errNoReaders ends a shared upstream answer every caller has left.
var errNoReaders = errors.New("cache: every caller of a shared answer left")

// errNotShared tells a call that joined a flight to go upstream on its own:
// the flight failed with no response (a refusal may be its first caller's
// own: a budget, a model its key may not use), or its answer was made with
// a model this call's key may not use.
var errNotShared = errors.New("cache: not shared")

// recording is one upstream call shared by identical calls: its response
// (status, headers, or the error it failed with) and its body's bytes as
// they arrive. Each call reads the bytes from the start at its own pace
// (replayBody), so a stream reaches every caller event by event. The
// upstream call runs in a goroutine of its own (fly) with a context that no
// single caller's leaving cancels; it is cancelled when every caller has
// left. The bytes are held while the answer may be kept (up to
// MaxAnswerBytes); past that no call may join, and bytes every caller has
// read are dropped.
type recording struct {
	ready  chan struct{} // closed when status and header, or err, are set
	cancel context.CancelFunc

	mu       sync.Mutex
	status   int
	header   http.Header
	model    string // the model the answer is made with (its first caller's Call.Served)
	length   int64
	err      error
	buf      []byte
	base     int64 // offset of buf[0] in the body
	done     bool
	bodyErr  error         // why the body ended; nil at its end
	grow     chan struct{} // closed and replaced each time buf grows or the body ends
	readers  int
	oversize bool // the answer will not be kept: no call may join, read bytes are dropped
	closed   bool // no call may join
}

func newRecording(cancel context.CancelFunc) *recording {
	return &recording{ready: make(chan struct{}), grow: make(chan struct{}), readers: 1, cancel: cancel}
}

// join adds a caller, unless the recording is closed to new ones.
func (r *recording) join() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.readers == 0 {
		return false
	}
	r.readers++
	return true
}

// leave removes a caller; the last one to leave before the body ended
// cancels the upstream call.
func (r *recording) leave() {
	r.mu.Lock()
	r.readers--
	last := r.readers == 0 && !r.done
	if r.readers == 0 {
		r.closed = true
	}
	r.mu.Unlock()
	if last {
		r.cancel()
	}
}

func (r *recording) fail(err error) {
	r.mu.Lock()
	r.err, r.closed = err, true
	r.mu.Unlock()
	close(r.ready)
}

func (r *recording) start(resp *http.Response, model string) {
	r.mu.Lock()
	r.status, r.header, r.length, r.model = resp.StatusCode, resp.Header, resp.ContentLength, model
	r.mu.Unlock()
	close(r.ready)
}

// append adds bytes the upstream sent; it reports whether the answer is
// still small enough to keep.
func (r *recording) append(p []byte, limit int64) (keepable bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p...)
	if !r.oversize && r.base+int64(len(r.buf)) > limit {
		r.oversize, r.closed = true, true
	}
	close(r.grow)
	r.grow = make(chan struct{})
	return !r.oversize
}

// recorded returns the bytes so far, and whether they are all of them (not
// when the answer grew past what may be kept).
func (r *recording) recorded() ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf, !r.oversize
}

// finish ends the body with err (nil at its end).
func (r *recording) finish(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done, r.bodyErr = true, err
	if err != nil {
		r.closed = true
	}
	close(r.grow)
}

func (r *recording) noReaders() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.readers == 0
}

// response waits for the upstream response and returns a copy of it whose
// body replays the recording from its start, marked with result. A call
// whose context ends first leaves.
func (r *recording) response(req *http.Request, result string) (*http.Response, error) {
	ctx := req.Context()
	select {
	case <-r.ready:
	case <-ctx.Done():
		r.leave()
		return nil, ctx.Err()
	}
	if r.err != nil {
		r.leave()
		return nil, r.err
	}
	h := r.header.Clone()
	h.Set(HeaderCacheStatus, result)
	return &http.Response{
		Status: strconv.Itoa(r.status) + " " + http.StatusText(r.status), StatusCode: r.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: &replayBody{r: r, ctx: ctx}, ContentLength: r.length, Request: req,
	}, nil
}

// follow is response for a call that joined the flight: it shares the
// upstream response, and records so on c, unless the flight failed with no
// response or its answer's model is one c's key may not use
// (errNotShared: the call goes on its own).
func (r *recording) follow(req *http.Request, c *gateway.Call) (*http.Response, error) {
	select {
	case <-r.ready:
	case <-req.Context().Done():
		r.leave()
		return nil, req.Context().Err()
	}
	if r.err != nil || !allowed(c, r.model) {
		r.leave()
		return nil, errNotShared
	}
	hooks.SetCacheResult(c, ResultShared)
	return r.response(req, ResultShared)
}

// replayBody is one caller's reading of a recording. Close may be called
// concurrently with Read.
type replayBody struct {
	r    *recording
	ctx  context.Context
	off  int64
	once sync.Once
}

func (b *replayBody) Read(p []byte) (int, error) {
	r := b.r
	for {
		r.mu.Lock()
		if i := b.off - r.base; i >= 0 && i < int64(len(r.buf)) {
			n := copy(p, r.buf[i:])
			b.off += int64(n)
			if r.oversize && r.readers == 1 && b.off == r.base+int64(len(r.buf)) {
				// The only caller has read everything: nothing will be
				// kept, so the bytes need not be held.
				r.base, r.buf = b.off, r.buf[:0]
			}
			r.mu.Unlock()
			return n, nil
		}
		if r.done {
			err := r.bodyErr
			r.mu.Unlock()
			if err == nil {
				err = io.EOF
			}
			return 0, err
		}
		grow := r.grow
		r.mu.Unlock()
		select {
		case <-grow:
		case <-b.ctx.Done():
			return 0, b.ctx.Err()
		}
	}
}

func (b *replayBody) Close() error {
	b.once.Do(b.r.leave)
	return nil
}

// fly makes the shared upstream call and records its answer, then keeps it
// (or not) in rc. It sends the call's Outbound with a context of its own.
func (rc *ResponseCache) fly(next http.RoundTripper, req *http.Request, ctx context.Context, body []byte, key answerKey, r *recording) {
	defer r.cancel()
	resp, err := next.RoundTrip(resend(req.WithContext(ctx), body))
	if err != nil {
		r.fail(err)
		rc.abandon(key, r)
		return
	}
	var model string
	var stream bool
	if c := gateway.CallFrom(ctx); c != nil {
		_, model = c.Served()
		stream = c.Stream
	}
	r.start(resp, model)
	defer resp.Body.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 && !r.append(buf[:n], rc.cfg.MaxAnswerBytes) {
			rc.abandon(key, r)
		}
		if err != nil {
			whole := err == io.EOF
			if whole {
				err = nil
			}
			// Kept before any caller reads the end: a call made once the
			// answer was read whole is served what was kept.
			b, all := r.recorded()
			rc.keep(key, r, model, resp.StatusCode, resp.Header, b, whole && all)
			r.finish(err)
			return
		}
		if r.noReaders() {
			// A stream whose [DONE] has been read is whole, whether or not
			// its upstream has reported its end yet: an SDK stops reading,
			// and closes, at [DONE].
			if b, all := r.recorded(); stream && all && sseDone(b) {
				rc.keep(key, r, model, resp.StatusCode, resp.Header, b, true)
				r.finish(nil)
				return
			}
			r.finish(errNoReaders)
			rc.abandon(key, r)
			return
		}
	}
}

// sseDone reports whether b, an event stream, ends with its terminal
// "data: [DONE]" event.
func sseDone(b []byte) bool {
	return bytes.HasSuffix(bytes.TrimRight(b, "\r\n"), []byte("data: [DONE]"))
}
