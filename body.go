package gateway

import (
	"bytes"
	"io"
	"net/http"
)

// bodyReader is a replayable request or response body over a byte slice.
type bodyReader struct{ bytes.Reader }

func (*bodyReader) Close() error { return nil }

func newBytesBody(b []byte) io.ReadCloser {
	r := &bodyReader{}
	r.Reset(b)
	return r
}

// setBody replaces req's body with b, making it replayable: Body, GetBody and
// ContentLength are all set. req must be a request the caller owns (a clone).
func setBody(req *http.Request, b []byte) {
	req.Body = newBytesBody(b)
	req.ContentLength = int64(len(b))
	req.GetBody = func() (io.ReadCloser, error) { return newBytesBody(b), nil }
	if len(b) == 0 {
		req.Body = http.NoBody
		req.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
	}
}

// readBody reads r in full, refusing more than limit bytes with an
// ErrBodyTooLarge error. sizeHint (a Content-Length, or -1) sizes the buffer
// in one allocation when it is known.
func readBody(r io.Reader, sizeHint, limit int64) ([]byte, error) {
	if sizeHint > limit {
		return nil, ErrBodyTooLarge.WithMessage(bodyTooLargeMsg(limit))
	}
	if sizeHint < 0 {
		sizeHint = 512
	}
	buf := make([]byte, 0, sizeHint+1) // +1 so a body of exactly sizeHint bytes needs no regrowth to see EOF
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, ErrBodyTooLarge.WithMessage(bodyTooLargeMsg(limit))
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func bodyTooLargeMsg(limit int64) string {
	return "gateway: request body exceeds " + formatBytes(limit)
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return itoa(n>>10) + " KiB"
	}
	return itoa(n) + " bytes"
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	if n == 0 {
		return "0"
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
