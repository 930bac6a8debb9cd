package billing

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// wal is the pipeline's write-ahead log: numbered segment files in one
// directory, each a sequence of JSON lines, one Record a line. The writer
// and spilling producers append; each sink reads it back from its own
// cursor when it fell behind the in-memory fan-out or restarts after a
// crash; a segment is deleted once every sink's acknowledged cursor has
// passed it.
//
// A line is durable against the process dying once append returned (the
// bytes are in the kernel's page cache) and against the machine dying once
// sync returned. wal is safe for concurrent use.
type wal struct {
	dir      string
	segBytes int64
	maxBytes int64
	unlock   func() error

	syncMu sync.Mutex // held through an fsync (sync)

	mu     sync.Mutex
	f      *os.File // the segment being appended to
	seg    uint64   // its number
	size   int64    // its length
	first  uint64   // the oldest segment not deleted
	sizes  map[uint64]int64
	total  int64 // bytes in every live segment
	dirty  bool  // appended since the last sync
	closed bool

	// beforeSync, set only by this package's tests, runs before each
	// fsync: a test makes the disk slow with it, or fails the fsync by
	// returning an error.
	beforeSync func() error
}

// walPos is a position in the log: a byte offset in a segment. Segments are
// numbered consecutively, so the end of a finished segment and the start of
// the next are the same place (the reader moves from one to the other).
type walPos struct {
	seg uint64
	off int64
}

func (p walPos) less(q walPos) bool {
	return p.seg < q.seg || (p.seg == q.seg && p.off < q.off)
}

const walSuffix = ".wal"

var (
	errWALFull   = errors.New("billing: write-ahead log is at its MaxDiskBytes")
	errWALClosed = errors.New("billing: write-ahead log is closed")
)

func segName(seg uint64) string { return fmt.Sprintf("%016x%s", seg, walSuffix) }

// openWAL opens the log in dir, taking the directory's lock, and starts a
// new segment after those a previous run left (they are read, never
// appended to, so a torn last line of a crash stays where it is).
func openWAL(dir string, segBytes, maxBytes int64) (*wal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("billing: write-ahead log: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	w := &wal{dir: dir, segBytes: segBytes, maxBytes: maxBytes, unlock: unlock, sizes: map[uint64]int64{}}
	segs, err := listSegments(dir)
	if err != nil {
		unlock()
		return nil, err
	}
	next := uint64(1)
	for _, s := range segs {
		fi, err := os.Stat(filepath.Join(dir, segName(s)))
		if err != nil {
			unlock()
			return nil, fmt.Errorf("billing: write-ahead log: %w", err)
		}
		w.sizes[s] = fi.Size()
		w.total += fi.Size()
		next = s + 1
	}
	w.first = next
	if len(segs) > 0 {
		w.first = segs[0]
	}
	if err := w.startLocked(next); err != nil {
		unlock()
		return nil, err
	}
	return w, nil
}

func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("billing: write-ahead log: %w", err)
	}
	var segs []uint64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), walSuffix)
		if !ok || e.IsDir() {
			continue
		}
		if n, err := strconv.ParseUint(name, 16, 64); err == nil && n > 0 {
			segs = append(segs, n)
		}
	}
	slices.Sort(segs)
	return segs, nil
}

func (w *wal) startLocked(seg uint64) error {
	f, err := os.OpenFile(filepath.Join(w.dir, segName(seg)), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("billing: write-ahead log: %w", err)
	}
	w.f, w.seg, w.size = f, seg, 0
	w.sizes[seg] = 0
	return nil
}

// append writes lines (whole JSON lines) at the end of the log and returns
// where they start and end. It fails without writing when the log would
// pass maxBytes; a failed write is cut off again so no partial line stays.
func (w *wal) append(lines []byte) (start, end walPos, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return start, end, errWALClosed
	}
	n := int64(len(lines))
	if w.total+n > w.maxBytes {
		return start, end, errWALFull
	}
	if w.size > 0 && w.size+n > w.segBytes {
		if err := w.rotateLocked(); err != nil {
			return start, end, err
		}
	}
	start = walPos{w.seg, w.size}
	if _, err := w.f.Write(lines); err != nil {
		_ = w.f.Truncate(w.size)
		return start, end, fmt.Errorf("billing: write-ahead log: %w", err)
	}
	w.size += n
	w.total += n
	w.sizes[w.seg] = w.size
	w.dirty = true
	return start, walPos{w.seg, w.size}, nil
}

// rotateLocked syncs and closes the current segment and starts the next.
func (w *wal) rotateLocked() error {
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("billing: write-ahead log: %w", err)
	}
	w.dirty = false
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("billing: write-ahead log: %w", err)
	}
	return w.startLocked(w.seg + 1)
}

// sync makes every frame appended before it survive a machine crash. The
// fsync runs outside the lock, so appends and readers do not wait for the
// disk; a segment finished meanwhile was synced by its rotation.
func (w *wal) sync() error {
	// One fsync at a time, so that one that returns covers every append
	// before its call: a Sync arriving while the background fsync runs
	// (which already cleared dirty) waits for it, then syncs what came
	// after.
	w.syncMu.Lock()
	defer w.syncMu.Unlock()
	w.mu.Lock()
	if w.closed || !w.dirty {
		w.mu.Unlock()
		return nil
	}
	w.dirty = false
	f := w.f
	w.mu.Unlock()
	err := error(nil)
	if w.beforeSync != nil {
		err = w.beforeSync()
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil && !errors.Is(err, os.ErrClosed) {
		// Not durable: the next sync must try again, not find it clean.
		w.mu.Lock()
		if w.f == f {
			w.dirty = true
		}
		w.mu.Unlock()
		return fmt.Errorf("billing: write-ahead log: %w", err)
	}
	return nil
}

// end returns the position after the last line appended.
func (w *wal) end() walPos {
	w.mu.Lock()
	defer w.mu.Unlock()
	return walPos{w.seg, w.size}
}

// start returns the position of the oldest line not yet deleted.
func (w *wal) start() walPos {
	w.mu.Lock()
	defer w.mu.Unlock()
	return walPos{w.first, 0}
}

// segmentSize returns the length of a finished segment, or -1 for the one
// being appended to (a reader waits for more there instead of moving on).
func (w *wal) segmentSize(seg uint64) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if seg >= w.seg {
		return -1
	}
	return w.sizes[seg]
}

// release deletes every finished segment before low, the position every
// sink has acknowledged. When the sinks have acknowledged the whole log and
// it holds over half of maxBytes, the current segment is finished early so
// that it can go too: otherwise a log held full by a sink outage would stay
// full once the sink is back.
func (w *wal) release(low walPos) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	if low.seg == w.seg && low.off == w.size && w.size > 0 && w.total > w.maxBytes/2 {
		if w.rotateLocked() == nil {
			low = walPos{w.seg, 0}
		}
	}
	for ; w.first < low.seg && w.first < w.seg; w.first++ {
		if err := os.Remove(filepath.Join(w.dir, segName(w.first))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return // kept for the next release (or the next start) to try again
		}
		w.total -= w.sizes[w.first]
		delete(w.sizes, w.first)
	}
}

// bytes returns the live segments' total length.
func (w *wal) bytes() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.total
}

// close syncs and closes the log and releases the directory's lock.
func (w *wal) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	// The current segment stays even when empty: the next start numbers
	// its own after it, so the sinks' cursors stay behind the log's end.
	err := errors.Join(w.f.Sync(), w.f.Close())
	return errors.Join(err, w.unlock())
}
