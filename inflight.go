package gateway

import (
	"io"
	"sync"
	"sync/atomic"
)

// bodyBudget counts the bytes of request-body buffers a server-mode handler
// holds, never more than max (Limits.MaxBodyBytesInFlight). A nil budget
// bounds nothing. Safe for concurrent use.
type bodyBudget struct {
	used atomic.Int64
	max  int64
}

// reserve takes n bytes, or reports false, taking nothing, when they would
// go over max.
func (b *bodyBudget) reserve(n int64) bool {
	if b == nil {
		return true
	}
	for {
		u := b.used.Load()
		if u+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (b *bodyBudget) release(n int64) {
	if b != nil && n != 0 {
		b.used.Add(-n)
	}
}

// A server-mode body grows as its bytes arrive: into pooled chunks of 16
// KiB, then doubling to 1 MiB, copied once at the end into a body of its
// exact size. A request that announces 10 MiB and sends nothing holds one
// 16 KiB chunk, not 10 MiB. The chunks go back to their pool once copied;
// the body itself is never pooled, since the Call, its Outbound and every
// middleware may keep referring to it.
const (
	firstChunkShift = 14 // 16 KiB
	lastChunkShift  = 20 // 1 MiB
)

var chunkPools [lastChunkShift - firstChunkShift + 1]sync.Pool

// chunkClass is the size class of the i-th chunk of a body.
func chunkClass(i int) int { return min(i, len(chunkPools)-1) }

func getChunk(class int) *[]byte {
	if b, ok := chunkPools[class].Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 1<<(firstChunkShift+class))
	return &b
}

// readServerBody reads a caller's request body in full, refusing more than
// limit bytes (ErrBodyTooLarge) and buffers budget cannot hold
// (errBodiesInFlight). sizeHint is the Content-Length, or -1. It returns the
// body and the bytes held in budget for it, which the caller releases once
// nothing uses the body; on an error it holds nothing.
//
// A body announced at under 16 KiB is read straight into a buffer of its
// size, in one allocation: such bodies are the common case, and a chunk
// would cost a copy to save at most 16 KiB.
func readServerBody(r io.Reader, sizeHint, limit int64, budget *bodyBudget) ([]byte, int64, error) {
	if sizeHint > limit {
		return nil, 0, ErrBodyTooLarge.WithMessage(bodyTooLargeMsg(limit))
	}
	if sizeHint < 0 || sizeHint >= 1<<firstChunkShift {
		return readChunks(r, nil, 0, sizeHint, limit, budget)
	}
	held := sizeHint + 1 // +1 so a body of exactly sizeHint bytes sees EOF without a second buffer
	if !budget.reserve(held) {
		return nil, 0, errBodiesInFlight
	}
	buf, err := fill(r, make([]byte, 0, held))
	switch {
	case err == io.EOF:
		return buf, held, nil
	case err != nil:
		budget.release(held)
		return nil, 0, err
	}
	// Longer than it said (a reader that is not net/http's): go on in chunks.
	return readChunks(r, buf, held, -1, limit, budget)
}

// readChunks reads the rest of a body that starts with head (held bytes in
// budget) into chunks, then copies it into one buffer of its exact size.
func readChunks(r io.Reader, head []byte, held, sizeHint, limit int64, budget *bodyBudget) ([]byte, int64, error) {
	type filled struct {
		c *[]byte
		n int
	}
	var arr [16]filled // enough for 10 MiB
	chunks := arr[:0]
	defer func() {
		for i, f := range chunks {
			chunkPools[chunkClass(i)].Put(f.c)
		}
	}()
	total := int64(len(head))
	var err error
	for err == nil {
		// Read no further than one byte past the limit, or past the
		// announced length, where EOF must come; hold only that.
		want := limit + 1
		if sizeHint >= 0 {
			want = sizeHint + 1
		}
		c := getChunk(chunkClass(len(chunks)))
		space := min(int64(len(*c)), want-total)
		if !budget.reserve(space) {
			chunkPools[chunkClass(len(chunks))].Put(c)
			err = errBodiesInFlight
			break
		}
		held += space
		var b []byte
		b, err = fill(r, (*c)[:0:space])
		chunks = append(chunks, filled{c, len(b)})
		total += int64(len(b))
		switch {
		case total > limit:
			err = ErrBodyTooLarge.WithMessage(bodyTooLargeMsg(limit))
		case err == nil && total == want:
			sizeHint = -1 // longer than it said: the reader is not net/http's
		}
	}
	if err != io.EOF {
		budget.release(held)
		return nil, 0, err
	}
	// The chunks and the body are both alive while it is copied: the body
	// is reserved before it is made, the chunks released after.
	if !budget.reserve(total) {
		budget.release(held)
		return nil, 0, errBodiesInFlight
	}
	body := make([]byte, total)
	n := copy(body, head)
	for _, f := range chunks {
		n += copy(body[n:], (*f.c)[:f.n])
	}
	budget.release(held)
	return body, total, nil
}

// fill reads from r into b until b is full or a read fails; io.EOF is
// returned as it is.
func fill(r io.Reader, b []byte) ([]byte, error) {
	for len(b) < cap(b) {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			return b, err
		}
	}
	return b, nil
}
