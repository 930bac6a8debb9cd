package billing

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// walReadChunk bounds what a reader holds, and so a frame's size: a Record
// never comes near it.
const walReadChunk = 1 << 20

// walReader reads the log from a position on, for one sink. It is used by
// one goroutine.
type walReader struct {
	w    *wal
	pos  walPos
	f    *os.File
	fseg uint64
	buf  []byte
}

func newWALReader(w *wal, from walPos) *walReader {
	if s := w.start(); from.less(s) {
		from = s // a cursor older than the log: that part was acknowledged and deleted
	}
	return &walReader{w: w, pos: from}
}

// read appends to dst the records from the reader's position on, up to max
// records and not past limit, and moves the position past the lines it
// consumed. corrupt counts frames it could not decode (a torn last write of
// a crash, a damaged disk), which it skips.
func (r *walReader) read(dst []Record, max int, limit walPos) (_ []Record, corrupt int, err error) {
	taken := 0
	for taken < max && r.pos.less(limit) {
		end := limit.off
		if r.pos.seg < limit.seg {
			if end = r.w.segmentSize(r.pos.seg); end < 0 {
				return dst, corrupt, fmt.Errorf("billing: write-ahead segment %d has no size", r.pos.seg)
			}
		}
		if r.pos.off >= end {
			if r.pos.seg == limit.seg {
				break
			}
			r.next()
			continue
		}
		if err := r.open(); err != nil {
			return dst, corrupt, err
		}
		if r.buf == nil {
			r.buf = make([]byte, walReadChunk)
		}
		chunk := r.buf[:min(int64(len(r.buf)), end-r.pos.off)]
		n, err := r.f.ReadAt(chunk, r.pos.off)
		if err != nil && !errors.Is(err, io.EOF) {
			return dst, corrupt, fmt.Errorf("billing: write-ahead log: %w", err)
		}
		chunk = chunk[:n]
		consumed := 0
		for taken < max && consumed < len(chunk) {
			dst = append(dst, Record{})
			k, err := decodeFrame(chunk[consumed:], &dst[len(dst)-1])
			if err == nil {
				consumed += k
				taken++
				continue
			}
			dst = dst[:len(dst)-1]
			if errors.Is(err, errFrameShort) {
				break
			}
			corrupt++
			if k == 0 {
				// No length to trust: the rest of the segment is lost.
				consumed = len(chunk)
				r.pos.off = end - int64(consumed)
				break
			}
			consumed += k
		}
		switch {
		case consumed > 0:
			r.pos.off += int64(consumed)
		case r.pos.seg < limit.seg:
			// A finished segment ending in part of a frame: the torn
			// write of a crash. Skip it.
			r.pos.off = end
			corrupt++
		default:
			return dst, corrupt, nil // cannot happen: frames up to limit are whole
		}
	}
	return dst, corrupt, nil
}

func (r *walReader) open() error {
	if r.f != nil && r.fseg == r.pos.seg {
		return nil
	}
	r.closeFile()
	f, err := os.Open(filepath.Join(r.w.dir, segName(r.pos.seg)))
	if err != nil {
		return fmt.Errorf("billing: write-ahead log: %w", err)
	}
	r.f, r.fseg = f, r.pos.seg
	return nil
}

func (r *walReader) next() {
	r.closeFile()
	r.pos = walPos{r.pos.seg + 1, 0}
}

func (r *walReader) closeFile() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}
