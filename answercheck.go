package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
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
const answerHeadSize = 32

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
// req: a 2xx, not in a Content-Encoding, that may have a body (not a 204;
// one of length 0, which net/http gives as http.NoBody, is an empty answer,
// which fails) to a model call (any Op but OpUnknown, whose answers are
// JSON) that is not a stream (the hold checks those) and not a HEAD.
func checksAnswer(c *Call, req *http.Request, resp *http.Response) bool {
	return c.Op != OpUnknown && !c.Stream && req.Method != http.MethodHead &&
		resp.StatusCode/100 == 2 && bodyAllowed(resp.StatusCode) && !encoded(resp)
}

// encoded reports whether resp's body is still in a Content-Encoding (a
// Provider passed the caller's Accept-Encoding on, so its transport did not
// decode it): its bytes say nothing of the JSON they hold.
func encoded(resp *http.Response) bool {
	ce := resp.Header["Content-Encoding"]
	return len(ce) > 0 && ce[0] != "" && !strings.EqualFold(ce[0], "identity")
}

// checkAnswer reads the start of resp's body into head, and returns an error
// deriving from ErrUpstream when the answer is no answer: empty (or only
// whitespace), starting with something other than '{' or '[' after any
// whitespace and byte-order mark, an upstream's error object (judgeHead),
// or broken while its head was read (a *Error the body's Read returned,
// an adapter's, as it came). answerError makes the message say what came.
// If the attempt's context ended meanwhile, its error is returned. On an
// error, resp's body is closed.
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

// readAnswerHead reads into head until what it read decides the answer
// (judgeHead), its end, a failure, or a full head (not judged).
func readAnswerHead(body io.Reader, head *answerHead) error {
	for empty := 0; head.n < answerHeadSize; {
		k, err := body.Read(head.b[head.n:])
		head.n += uint8(k)
		if err != nil && err != io.EOF {
			// The answer broke, whatever its bytes say: nothing of it has
			// reached the caller, so the attempt fails here.
			var own *Error
			if errors.As(err, &own) {
				return err // the Provider's own words (an adapter that translates at its first read)
			}
			return errAnswerBroke.withCause(err)
		}
		switch judgeHead(head.b[:head.n]) {
		case headJSON:
			return nil
		case headNotJSON:
			return errAnswerNotJSON
		case headErrorObject:
			return errAnswerErrorObject
		}
		switch {
		case err == io.EOF:
			if firstValueByte(head.b[:head.n]) == 0 {
				return errAnswerEmpty
			}
			return nil // a JSON start, then the end: for the caller's reader to refuse
		case k == 0:
			if empty++; empty >= 100 {
				return errAnswerBroke.withCause(io.ErrNoProgress)
			}
		}
	}
	return nil // undecided in a full head: not judged
}

// What the start of an answer says it is.
const (
	headUndecided   = iota // too little yet
	headJSON               // an object or an array (that is not an error object)
	headNotJSON            // anything else
	headErrorObject        // an upstream's error object under a 2xx (judgeHead)
)

// judgeHead decides what b, an answer's first bytes, says the answer is.
// An error object is told by its first member, in the shapes upstreams
// use: "error" with an object or a string ({"error":{"message":…}},
// {"error":"…"}), "object" with "error" (vLLM's and FastChat's
// {"object":"error","message":…}) or "type" with "error" (Anthropic's
// {"type":"error","error":{…}}).
func judgeHead(b []byte) int {
	i := valueStart(b)
	switch {
	case i == len(b):
		return headUndecided
	case b[i] == '[':
		return headJSON
	case b[i] != '{':
		return headNotJSON
	}
	i = skipSpace(b, i+1)
	if i == len(b) {
		return headUndecided
	}
	if b[i] != '"' {
		return headJSON
	}
	// The first member's name, if it is one that may start an error.
	j := i + 1
	for j < len(b) && b[j] != '"' {
		if b[j] == '\\' || j-i > len("object") {
			return headJSON // no name an error starts with
		}
		j++
	}
	if j == len(b) {
		return headUndecided
	}
	name := string(b[i+1 : j])
	if name != "error" && name != "object" && name != "type" {
		return headJSON
	}
	k := skipSpace(b, j+1)
	if k == len(b) {
		return headUndecided
	}
	if b[k] != ':' {
		return headJSON // not JSON after all; the caller's reader will say so
	}
	k = skipSpace(b, k+1)
	if k == len(b) {
		return headUndecided
	}
	if name == "error" {
		if b[k] == '{' || b[k] == '"' {
			return headErrorObject
		}
		return headJSON // "error": null, as a Responses API object may say
	}
	const errorValue = `"error"`
	v := b[k:]
	switch {
	case len(v) < len(errorValue) && string(v) == errorValue[:len(v)]:
		return headUndecided
	case len(v) >= len(errorValue) && string(v[:len(errorValue)]) == errorValue:
		return headErrorObject
	}
	return headJSON
}

// firstValueByte is the first byte of b that is not JSON whitespace, past
// a UTF-8 byte-order mark at its start (which some servers put first, and
// JSON readers skip), or 0 if b holds none yet.
func firstValueByte(b []byte) byte {
	if i := valueStart(b); i < len(b) {
		return b[i]
	}
	return 0
}

// valueStart is the index in b of its first byte that is not JSON
// whitespace, past a byte-order mark at its start, or len(b) if b holds
// none yet (or only the start of a mark).
func valueStart(b []byte) int {
	const bom = "\xef\xbb\xbf"
	i := 0
	for i < len(b) && i < len(bom) && b[i] == bom[i] {
		i++
	}
	switch {
	case i == len(b) && i < len(bom):
		return len(b) // nothing yet, or a mark's first bytes
	case i < len(bom):
		i = 0 // no mark
	}
	return skipSpace(b, i)
}

// skipSpace is the index of the first byte of b from i on that is not JSON
// whitespace, or len(b).
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

var (
	errAnswerNotJSON = ErrUpstream.WithMessage("gateway: the upstream answered with a body that is not JSON")
	errAnswerEmpty   = ErrUpstream.WithMessage("gateway: the upstream answered with an empty body")
	errAnswerBroke   = ErrUpstream.WithMessage("gateway: the upstream's answer broke at its start")
	// The upstream's words are not repeated: what an error object says is
	// the provider's to make fit for callers (provider.OpenAI does, for an
	// error status), and a 2xx reaches no provider's sanitizer.
	errAnswerErrorObject = ErrUpstream.WithMessage("gateway: the upstream answered with an error object, not an answer")
)

// answerError is the check's failure err made to say what came: the
// Content-Type of a body that is not JSON, the status of an error object.
func answerError(err error, resp *http.Response) error {
	switch err {
	case errAnswerNotJSON:
		ct := resp.Header.Get("Content-Type")
		if ct == "" {
			ct = "none"
		} else {
			ct = strconv.Quote(clip(ct, maxEchoed))
		}
		return errAnswerNotJSON.WithMessage(errAnswerNotJSON.Message + " (Content-Type " + ct + ")")
	case errAnswerErrorObject:
		return errAnswerErrorObject.WithMessage("gateway: the upstream answered " + strconv.Itoa(resp.StatusCode) +
			" with an error object, not an answer")
	}
	return err
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
