package billing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// walReadChunk bounds what a reader holds: a line longer than this (no
// Record comes near it) is skipped as corrupt.
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
// consumed. corrupt counts lines it could not decode (a torn last line of a
// crash, a damaged disk), which it skips.
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
		for taken < max {
			i := bytes.IndexByte(chunk[consumed:], '\n')
			if i < 0 {
				break
			}
			line := chunk[consumed : consumed+i]
			consumed += i + 1
			dst = append(dst, Record{})
			if err := json.Unmarshal(line, &dst[len(dst)-1]); err != nil {
				dst = dst[:len(dst)-1]
				corrupt++
				continue
			}
			taken++
		}
		switch {
		case consumed > 0:
			r.pos.off += int64(consumed)
		case n == len(r.buf) || r.pos.seg < limit.seg:
			// A line longer than the chunk, or a finished segment ending
			// without a newline (the torn write of a crash): skip it.
			r.pos.off += int64(n)
			corrupt++
		default:
			return dst, corrupt, nil // cannot happen: lines up to limit are whole
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
