package gateway

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// The attempt boundary's check of a 2xx answer to a model call that is not
// a stream: every such answer is JSON (an object), so one whose first bytes
// say otherwise has failed, before anything of it reached the caller, and
// the call may move to another target. The stream's counterpart is the hold
// (hold.go).

// answerHeadSize bounds what the check reads: the first byte of a JSON value
// comes after the whitespace a pretty-printer puts first, if any. Answers
// whose first answerHeadSize bytes are all whitespace are not judged.
const answerHeadSize = 16

// answerHead is what the check read of an answer, replayed before the rest
// (attemptBody, headBody): no byte is lost, and no allocation is made for
// it in the usual call.
type answerHead struct {
	b      [answerHeadSize]byte
	n, off uint8 // b[off:n] is left to replay
}

// answerHeads holds the heads the boundary reads into: a Read through an
// interface makes its buffer escape, and a pooled one costs no allocation.
var answerHeads = sync.Pool{New: func() any { return new(answerHead) }}

// read replays what is left of the head into p.
func (h *answerHead) read(p []byte) int {
	k := copy(p, h.b[h.off:h.n])
	h.off += uint8(k)
	return k
}

func (h *answerHead) pending() bool { return h.off < h.n }

// checksAnswer reports whether the boundary checks the answer resp is to
// req: a 2xx with a body to a model call (any Op but OpUnknown, whose answers
// are JSON) that is not a stream (the hold checks those) and not a HEAD.
func checksAnswer(c *Call, req *http.Request, resp *http.Response) bool {
	return c.Op != OpUnknown && !c.Stream && req.Method != http.MethodHead &&
		resp.StatusCode/100 == 2 && bodyAllowed(resp.StatusCode) && resp.Body != http.NoBody
}

// checkAnswer reads the start of resp's body into head, and returns an error
// deriving from ErrUpstream when the answer is not JSON: empty (or only
// whitespace), starting with something other than '{' or '[' after any
// whitespace and byte-order mark, or broken before its first byte. The
// message names the answer's Content-Type. If the attempt's context ended
// meanwhile, its error is returned. On an error, resp's body is closed.
//
// The read relies on the Provider contract that a body's Read ends when
// the request's context does (net/http's bodies do), as every later read
// of the answer does: it registers nothing on ctx, which would cost the
// usual call four allocations (BenchmarkChain/1KB/entry: 8 → 12).
func checkAnswer(ctx context.Context, resp *http.Response, head *answerHead) error {
	err := readAnswerHead(resp.Body, head)
	if err == nil {
		return nil
	}
	resp.Body.Close()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// readAnswerHead reads into head until the first byte of the answer that is
// not whitespace, its end, a failure, or a full head.
func readAnswerHead(body io.Reader, head *answerHead) error {
	for empty := 0; head.n < answerHeadSize; {
		k, err := body.Read(head.b[head.n:])
		head.n += uint8(k)
		switch first := firstValueByte(head.b[:head.n]); {
		case first == '{' || first == '[':
			return nil
		case first != 0:
			return errAnswerNotJSON
		}
		switch {
		case err == io.EOF:
			return errAnswerEmpty
		case err != nil:
			return errAnswerBroke.withCause(err)
		case k == 0:
			if empty++; empty >= 100 {
				return errAnswerBroke.withCause(io.ErrNoProgress)
			}
		}
	}
	return nil // whitespace only, so far: not judged
}

// firstValueByte is the first byte of b that is not JSON whitespace, past
// a UTF-8 byte-order mark at its start (which some servers put first, and
// JSON readers skip), or 0 if b holds none yet.
func firstValueByte(b []byte) byte {
	const bom = "\xef\xbb\xbf"
	i := 0
	for i < len(b) && i < len(bom) && b[i] == bom[i] {
		i++
	}
	switch {
	case i == len(b) && i < len(bom):
		return 0 // nothing yet, or a mark's first bytes
	case i < len(bom):
		i = 0 // no mark
	}
	for ; i < len(b); i++ {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
		default:
			return b[i]
		}
	}
	return 0
}

var (
	errAnswerNotJSON = ErrUpstream.WithMessage("gateway: the upstream answered with a body that is not JSON")
	errAnswerEmpty   = ErrUpstream.WithMessage("gateway: the upstream answered with an empty body")
	errAnswerBroke   = ErrUpstream.WithMessage("gateway: the upstream's answer broke before its first byte")
)

// answerError is the check's failure err with the answer's Content-Type
// named, when its body came but is no JSON.
func answerError(err error, resp *http.Response) error {
	if err != errAnswerNotJSON {
		return err
	}
	ct := resp.Header.Get("Content-Type")
	if ct == "" {
		ct = "none"
	} else {
		ct = strconv.Quote(clip(ct, maxEchoed))
	}
	return errAnswerNotJSON.WithMessage(errAnswerNotJSON.Message + " (Content-Type " + ct + ")")
}

// headBody replays a checked answer's head, then the rest of its body, for
// an answer that gets no attemptBody (a model list).
type headBody struct {
	head answerHead
	io.ReadCloser
}

func (b *headBody) Read(p []byte) (int, error) {
	if b.head.pending() {
		return b.head.read(p), nil
	}
	return b.ReadCloser.Read(p)
}
