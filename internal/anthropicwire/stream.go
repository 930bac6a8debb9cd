package anthropicwire

import (
	"errors"
	"fmt"
	"io"

	"github.com/llmgate/gateway/internal/sse"
)

// ErrStreamCut is the read error of a translated stream whose upstream ended
// before the event that ends its format (message_stop, [DONE]): the answer
// is incomplete, and must not look complete in the other format either.
var ErrStreamCut = fmt.Errorf("anthropicwire: the upstream stream ended before its end: %w", io.ErrUnexpectedEOF)

// ErrTooLarge is the read error of a stream that holds more than a
// translator keeps (MaxHeld bytes of a thinking block).
var ErrTooLarge = errors.New("anthropicwire: stream block too large to translate")

// StreamError is an error event an upstream sent after its 200: the stream
// ends with it, as a read error, never with a clean end. Type is the
// upstream's error type (a plain identifier; its message, which may name
// the account, is not kept).
type StreamError struct{ Type string }

func (e *StreamError) Error() string {
	return "anthropicwire: the upstream ended its stream with an error (" + e.Type + ")"
}

// MaxHeld bounds what a stream translator keeps across events: the text of
// one thinking block, replayed whole in thinking_blocks at its end.
const MaxHeld = 4 << 20

// translator turns one input event into output bytes, appended to out. It
// returns io.EOF when the event ended the stream (its output is still
// delivered).
type translator interface {
	event(out []byte, name string, data []byte) ([]byte, error)
}

// eventReader is a stream translated event by event: it holds what one
// input event produced, no more. A read error of the upstream passes as it
// is (a cancellation stays one); an upstream that ends before the
// translator saw its end event fails with ErrStreamCut. Close closes the
// upstream body and may be called concurrently with Read.
type eventReader struct {
	src io.ReadCloser
	in  *sse.Reader
	t   translator
	out []byte
	off int
	err error
}

func newEventReader(src io.ReadCloser, t translator) *eventReader {
	return &eventReader{src: src, in: sse.NewReader(src, 0), t: t}
}

func (r *eventReader) Read(p []byte) (int, error) {
	for r.off == len(r.out) {
		if r.err != nil {
			return 0, r.err
		}
		r.out, r.off = r.out[:0], 0
		ev, err := r.in.Next()
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				err = ErrStreamCut
			}
			r.err = err
			continue
		}
		r.out, r.err = r.t.event(r.out, ev.Name, ev.Data)
	}
	n := copy(p, r.out[r.off:])
	r.off += n
	return n, nil
}

func (r *eventReader) Close() error { return r.src.Close() }

// identifier returns s when it is a short plain identifier, else "error".
func identifier(s string) string {
	if s == "" || len(s) > 64 {
		return "error"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return "error"
		}
	}
	return s
}
