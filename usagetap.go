package gateway

import (
	"bytes"
	"io"
	"sync"
)

// usageTap wraps the body of a successful response at the entry point. As
// the caller reads, it records the call's usage (from the provider's report,
// or estimated from what was delivered) and, in a stream the caller asked no
// usage of, drops the usage-only chunk the gateway requested on its behalf.
// It holds at most one partial event.
//
// Read and Close may be called concurrently (Close unblocks a Read, as
// net/http allows); usage is recorded exactly once, at a stream's [DONE],
// EOF, a read error or Close, whichever comes first, and the call ends right
// after (its observers are told, outside the tap's lock), or, in server mode
// (Call.server), at Close: the handler delivers the body itself and closes
// it after its last write, so only then is it known whether the caller got
// the answer or left first (a 499).
type usageTap struct {
	call   *Call
	body   io.ReadCloser
	status int
	stream bool
	strip  bool // drop the usage-only chunk
	msgs   bool // an Anthropic Messages stream (messages.go)

	mu       sync.Mutex
	finished bool
	endErr   error     // the read error that ended the body, if any
	lex      bodyLexer // non-stream

	// stream
	buf      []byte  // read buffer
	bufp     *[]byte // buf's pointer in tapBufs, and out's: they go back in them
	outp     *[]byte
	pending  []byte // bytes of an event not yet complete
	scanned  int    // bytes of pending already searched for a line end
	out      []byte // complete events ready for the caller
	outOff   int
	err      error
	usage    Usage
	sawUsage bool
	doneSeen bool // [DONE] is in out: usage is recorded before it is read
	text     textCount
	maxEvent int
	// later are the spans, in out, of the data of events that cannot carry
	// usage: they go to the caller first and are counted for the estimate
	// after (countLater), so a stream's events are not held back for it.
	later []int
}

const tapReadSize = 8 << 10

// tapBufs holds the stream taps' read and output buffers between streams:
// a stream's first event is then written from memory already in use, not
// from fresh pages, and a stream leaves no garbage behind but what its
// events outgrew.
var tapBufs = sync.Pool{New: func() any { b := make([]byte, tapReadSize); return &b }}

// maxPooledTapBuf bounds the buffers kept: one that grew for a huge event
// is left to the collector.
const maxPooledTapBuf = 64 << 10

// putTapBuf gives b back in bp, the pointer it came in (no allocation).
func putTapBuf(bp *[]byte, b []byte) {
	if bp != nil && cap(b) >= tapReadSize && cap(b) <= maxPooledTapBuf {
		*bp = b[:cap(b)]
		tapBufs.Put(bp)
	}
}

// releaseLocked gives a stream's buffers back once its body has ended and
// every event has been read (Read, under mu): no Read is using them then,
// and Close touches neither (countLater has consumed later). A tap whose
// caller stops reading first keeps them, for the collector.
func (t *usageTap) releaseLocked() {
	if t.buf != nil {
		putTapBuf(t.bufp, t.buf)
		putTapBuf(t.outp, t.out)
		t.buf, t.out, t.outOff, t.bufp, t.outp = nil, nil, 0, nil, nil
	}
}

func (t *usageTap) init(c *Call, body io.ReadCloser, status int, stream bool, maxEvent int) {
	*t = usageTap{call: c, body: body, status: status, stream: stream, maxEvent: maxEvent,
		strip: stream && !c.IncludeUsage && c.Op.streamUsageOnRequest(), msgs: c.Op.anthropic()}
}

func (t *usageTap) Read(p []byte) (int, error) {
	if !t.stream {
		n, err := t.body.Read(p)
		t.mu.Lock()
		t.lex.feed(p[:n])
		ended := err != nil && t.finishLocked(err)
		t.mu.Unlock()
		if ended && !t.call.server {
			t.end()
		}
		return n, err
	}
	for {
		t.mu.Lock()
		if t.outOff < len(t.out) {
			n := copy(p, t.out[t.outOff:])
			t.outOff += n
			ended := t.doneSeen && t.finishLocked(nil)
			t.mu.Unlock()
			if ended && !t.call.server {
				t.end()
			}
			return n, nil
		}
		t.countLater()
		if t.err != nil {
			ended := t.finishLocked(t.err)
			t.releaseLocked()
			err := t.err
			t.mu.Unlock()
			if ended && !t.call.server {
				t.end()
			}
			return 0, err
		}
		t.out, t.outOff = t.out[:0], 0
		if t.buf == nil {
			t.bufp, t.outp = tapBufs.Get().(*[]byte), tapBufs.Get().(*[]byte)
			t.buf, t.out = *t.bufp, (*t.outp)[:0]
		}
		t.mu.Unlock()

		n, err := t.body.Read(t.buf) // not under the lock: Close must not wait for it

		t.mu.Lock()
		if len(t.pending) == 0 {
			// Split the events where they were read; only an incomplete
			// last one is kept, in pending's own buffer.
			own := t.pending
			t.pending = t.buf[:n]
			t.splitEvents()
			t.pending = append(own, t.pending...)
		} else {
			t.pending = append(t.pending, t.buf[:n]...)
			t.splitEvents()
		}
		if err != nil {
			if len(t.pending) > 0 { // an unterminated last event goes out as it is
				t.out = append(t.out, t.pending...)
				t.pending = t.pending[:0]
			}
			t.err = err
		}
		t.mu.Unlock()
	}
}

// splitEvents moves every complete event from pending to out, dropping the
// ones the caller must not see.
func (t *usageTap) splitEvents() {
	start := 0
	for {
		j := bytes.IndexByte(t.pending[t.scanned:], '\n')
		if j < 0 {
			break
		}
		end := t.scanned + j + 1
		line := t.pending[t.scanned:end]
		t.scanned = end
		if len(line) == 1 || (len(line) == 2 && line[0] == '\r') {
			t.event(t.pending[start:end])
			start = end
		}
	}
	if start > 0 {
		n := copy(t.pending, t.pending[start:])
		t.pending = t.pending[:n]
		t.scanned -= start
	}
	if len(t.pending) > t.maxEvent { // too large to inspect; pass it on untouched
		t.out = append(t.out, t.pending...)
		t.pending, t.scanned = t.pending[:0], 0
	}
}

// event inspects one complete event and appends it to out unless it must be
// dropped.
func (t *usageTap) event(ev []byte) {
	data := eventData(ev)
	if t.msgs {
		t.messagesEvent(ev, data)
		return
	}
	if bytes.Equal(data, doneData) {
		// The stream is complete: usage is recorded before the caller can
		// see the end (the read that returns [DONE] ends the call first), so
		// whoever reads [DONE] finds the call's usage.
		t.doneSeen = true
	}
	if data != nil && !bytes.Equal(data, doneData) && !mayCarryUsage(data) {
		// Only its text counts, for an estimate: after the caller has it.
		at := len(t.out) + cap(ev) - cap(data) // data is a part of ev
		t.later = append(t.later, at, at+len(data))
		t.out = append(t.out, ev...)
		return
	}
	if data != nil && !bytes.Equal(data, doneData) {
		if info, ok := inspectChunk(data); ok {
			if info.hasUsage {
				t.usage, t.sawUsage = info.usage, true
			}
			t.text.ascii += info.text.ascii
			t.text.other += info.text.other
			if t.strip && info.hasUsage && info.choices == 0 {
				return
			}
		}
	}
	t.out = append(t.out, ev...)
}

// messagesEvent is event for an Anthropic Messages stream: every event is
// inspected (usage may come in message_start and message_delta), and
// message_stop is its [DONE].
func (t *usageTap) messagesEvent(ev, data []byte) {
	if data != nil {
		if info, end, ok := inspectMessagesEvent(data); ok {
			if info.hasUsage {
				t.usage, t.sawUsage = maxUsage(t.usage, info.usage), true
			}
			t.text.ascii += info.text.ascii
			t.text.other += info.text.other
			t.doneSeen = t.doneSeen || end
		}
	}
	t.out = append(t.out, ev...)
}

// countLater counts the text of the events event passed on uninspected,
// while out still holds them.
func (t *usageTap) countLater() {
	for i := 0; i+1 < len(t.later); i += 2 {
		if info, ok := inspectChunk(t.out[t.later[i]:t.later[i+1]]); ok {
			t.text.ascii += info.text.ascii
			t.text.other += info.text.other
		}
	}
	t.later = t.later[:0]
}

// mayCarryUsage reports whether an event's data may hold a usage object:
// whether a "usage" key is followed by '{'. The key is matched as
// inspectChunk matches keys, byte for byte, so an event for which it is
// false never has usage; "usage":null, which OpenAI sends in every chunk of
// a stream that asked for usage, is no usage.
func mayCarryUsage(data []byte) bool {
	for {
		i := bytes.Index(data, usageKey)
		if i < 0 {
			return false
		}
		data = data[i+len(usageKey):]
		rest := bytes.TrimLeft(data, " \t\r\n")
		if len(rest) == 0 || rest[0] != ':' {
			continue
		}
		if rest = bytes.TrimLeft(rest[1:], " \t\r\n"); len(rest) > 0 && rest[0] != 'n' {
			return true
		}
	}
}

var usageKey = []byte(`"usage"`)

// eventData returns the payload of the first data line of an event, or nil.
func eventData(ev []byte) []byte {
	for len(ev) > 0 {
		line := ev
		if i := bytes.IndexByte(ev, '\n'); i >= 0 {
			line, ev = ev[:i], ev[i+1:]
		} else {
			ev = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if rest, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			return bytes.TrimPrefix(rest, []byte(" "))
		}
	}
	return nil
}

// finishLocked records the call's usage once, and reports whether it did
// now: the caller then ends the call (end), outside the lock. err is the read
// error that ended the body (nil at [DONE], EOF or Close).
func (t *usageTap) finishLocked(err error) bool {
	if t.finished {
		return false
	}
	t.finished = true
	if err != io.EOF {
		t.endErr = err
	}
	t.countLater()
	u, saw, text := t.usage, t.sawUsage, t.text
	if !t.stream {
		t.lex.finish()
		u, saw, text = t.lex.usage, t.lex.sawUsage, t.lex.text
	}
	switch op := t.call.Op; {
	case op == OpCountTokens:
		u = Usage{} // counting tokens costs none
	case !saw:
		u = Usage{PromptTokens: t.call.PromptTokens, CompletionTokens: text.tokens(), Estimated: true}
	case op.anthropic():
		u = messagesUsage(u)
	}
	t.call.setUsage(u)
	return true
}

// complete reports whether the tapped body ended cleanly: a stream's [DONE]
// was handed on (its reader writes it before it reads again), or a whole
// body was read to its end. A caller that leaves after that left with its
// whole answer.
func (t *usageTap) complete() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.finished && t.endErr == nil
}

// end ends the call once its usage is recorded.
func (t *usageTap) end() { t.call.endResponse(t.status, t.endErr) }

func (t *usageTap) Close() error {
	t.mu.Lock()
	ended := t.finishLocked(nil)
	t.mu.Unlock()
	err := t.body.Close()
	if ended || t.call.server {
		t.end() // the call ends once: a second end does nothing
	}
	return err
}
