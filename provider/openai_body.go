package provider

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"sync"

	"github.com/llmgate/gateway"
)

// The request body a provider receives is normally the Call's own body, but a
// router that falls back to another model sends a renamed copy, and any
// middleware may send an edited one. The body on the wire is what the caller
// of RoundTrip means, so effectiveCall reads it and, only when it differs from
// the Call's body, parses it again. The comparison runs while reading, in a
// pooled buffer, so the usual case costs no allocation and no second parse.

// reparseLimits bound a body parsed again. The entry point already enforced
// its own (possibly larger) limits on the caller's body, and an edit must not
// make the provider refuse what the entry accepted, so only the nesting,
// which bounds the parser's recursion, keeps a finite limit here; the size
// is bounded by maxBodyFor.
var reparseLimits = gateway.Limits{MaxDepth: 1024, MaxMessages: math.MaxInt32, MaxTokens: math.MaxInt32}

// bodyEditSlack is how much larger than the Call's body an edited body may be
// (a longer model name, added options).
const bodyEditSlack = 1 << 20

// effectiveCall returns the Call describing the body of req, and closes the
// body. It is the Call from the context when the body is the Call's; a Call
// parsed from the body otherwise, or when the context carries none (the
// provider used without an entry point).
func effectiveCall(req *http.Request, op gateway.Op) (*gateway.Call, error) {
	body := req.Body
	if body == nil {
		body = http.NoBody
	}
	defer body.Close()
	c := gateway.CallFrom(req.Context())
	if c == nil || c.Op != op {
		b, err := gateway.ReadBody(body, req.ContentLength, gateway.DefaultMaxBodyBytes)
		if err != nil {
			return nil, err
		}
		return gateway.ParseCall(op, b, gateway.Limits{})
	}
	limit := max(int64(gateway.DefaultMaxBodyBytes), int64(len(c.Body))+bodyEditSlack)
	b, same, err := readCompare(body, req.ContentLength, c.Body, limit)
	if err != nil {
		return nil, err
	}
	if same {
		return c, nil
	}
	lim := reparseLimits
	lim.MaxBodyBytes = limit
	return gateway.ParseCall(op, b, lim)
}

var compareBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// readCompare reads r to its end. When its bytes equal want it returns
// same=true and no bytes; otherwise it returns all of them (at most limit).
func readCompare(r io.Reader, size int64, want []byte, limit int64) (b []byte, same bool, err error) {
	if size >= 0 && size != int64(len(want)) {
		b, err = gateway.ReadBody(r, size, limit)
		return b, false, err
	}
	bp := compareBufPool.Get().(*[]byte)
	defer compareBufPool.Put(bp)
	buf := *bp
	off := 0
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if off+n > len(want) || !bytes.Equal(buf[:n], want[off:off+n]) {
				// Diverged: what was read so far is want[:off] then buf[:n].
				head := make([]byte, 0, off+n)
				head = append(append(head, want[:off]...), buf[:n]...)
				if rerr != nil && rerr != io.EOF {
					return nil, false, rerr
				}
				if rerr == io.EOF {
					r = http.NoBody
				}
				if int64(len(head)) > limit {
					return nil, false, gateway.ErrBodyTooLarge.WithMessage("provider: request body too large")
				}
				rest, err := gateway.ReadBody(r, -1, limit-int64(len(head)))
				if err != nil {
					return nil, false, err
				}
				return append(head, rest...), false, nil
			}
			off += n
		}
		if rerr == io.EOF {
			if off == len(want) {
				return nil, true, nil
			}
			return append([]byte(nil), want[:off]...), false, nil
		}
		if rerr != nil {
			return nil, false, rerr
		}
	}
}
