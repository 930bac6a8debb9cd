package billing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/clock"
)

// JSONLConfig configures a JSONL sink. Path is required; a zero field
// means the default named beside it, a negative one is an error.
type JSONLConfig struct {
	// Path is the file records are appended to, one JSON object a line. A
	// rotated file is renamed beside it with its rotation time in the name:
	// usage.jsonl -> usage-20261201T132500.000000000Z.jsonl.
	Path string
	// MaxBytes rotates the file before a batch would take it past this
	// size (64 MiB).
	MaxBytes int64
	// Daily rotates the file also when the UTC day changes.
	Daily bool
	// DedupWindow is how many of the latest keys the sink remembers, and
	// reloads from the file's tail when it opens, so a batch offered again
	// (a retry, a replay after a crash) is not written twice (8192; keep it
	// above the pipeline's BatchSize).
	DedupWindow int
	// Clock is the time source for Daily (nil: the system clock).
	Clock gateway.Clock
}

const (
	defaultJSONLMaxBytes    = 64 << 20
	defaultJSONLDedupWindow = 8192
	jsonlTailBytes          = 4 << 20 // what NewJSONL reads back for the dedup window
)

// Validate reports every field that is out of range, joined.
func (c JSONLConfig) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("billing: JSONLConfig.Path is required"))
	}
	if c.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("billing: JSONLConfig.MaxBytes is negative (%d); zero means the default", c.MaxBytes))
	}
	if c.DedupWindow < 0 {
		errs = append(errs, fmt.Errorf("billing: JSONLConfig.DedupWindow is negative (%d); zero means the default", c.DedupWindow))
	}
	return errors.Join(errs...)
}

// JSONL is a Sink that appends records to a file as JSON lines, synced
// before Write returns, and rotates the file by size and, optionally, by
// day. It stores each (CallID, Attempt) once within its dedup window, which
// covers what a pipeline offers again after a crash (its in-flight batch).
// It is safe for concurrent use; Close closes the file.
type JSONL struct {
	cfg   JSONLConfig
	clock clock.Clock

	mu     sync.Mutex
	closed bool
	f      *os.File // nil after a failed reopen: the next Write tries again
	size   int64
	day    string // the UTC day the file was started, for Daily
	dedup  dedupWindow
	buf    []byte
}

var _ Sink = (*JSONL)(nil)

// NewJSONL opens (or creates) cfg.Path for appending. A torn last line (a
// crash mid-write) is cut off so the next line starts clean.
func NewJSONL(cfg JSONLConfig) (*JSONL, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = defaultJSONLMaxBytes
	}
	if cfg.DedupWindow == 0 {
		cfg.DedupWindow = defaultJSONLDedupWindow
	}
	j := &JSONL{cfg: cfg, clock: clock.Or(cfg.Clock), dedup: newDedupWindow(cfg.DedupWindow)}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o755); err != nil {
		return nil, fmt.Errorf("billing: jsonl: %w", err)
	}
	if err := j.open(); err != nil {
		return nil, err
	}
	return j, nil
}

func (j *JSONL) open() error {
	f, err := os.OpenFile(j.cfg.Path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("billing: jsonl: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("billing: jsonl: %w", err)
	}
	size, err := j.loadTail(f, fi.Size())
	if err == nil && size != fi.Size() {
		err = f.Truncate(size)
	}
	if err == nil {
		_, err = f.Seek(size, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("billing: jsonl: %w", err)
	}
	j.f, j.size = f, size
	j.day = fi.ModTime().UTC().Format(time.DateOnly)
	if size == 0 {
		j.day = j.clock.Now().UTC().Format(time.DateOnly)
	}
	return nil
}

// loadTail puts the keys of the file's last lines in the dedup window and
// returns the length of the file's whole lines.
func (j *JSONL) loadTail(f *os.File, size int64) (int64, error) {
	from := max(0, size-jsonlTailBytes)
	buf := make([]byte, size-from)
	if _, err := f.ReadAt(buf, from); err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	last := bytes.LastIndexByte(buf, '\n')
	whole := from + int64(last+1)
	buf = buf[:last+1]
	if from > 0 { // the first line is cut
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		}
	}
	for line := range bytes.Lines(buf) {
		var k struct {
			CallID  string `json:"call_id"`
			Attempt int    `json:"attempt"`
		}
		if json.Unmarshal(line, &k) == nil {
			j.dedup.add(recordKey{k.CallID, k.Attempt})
		}
	}
	return whole, nil
}

// Write appends the records of batch not written before and syncs.
func (j *JSONL) Write(ctx context.Context, batch []Record) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return errors.New("billing: jsonl: closed")
	}
	if j.f == nil {
		if err := j.open(); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	j.buf = j.buf[:0]
	fresh := 0
	for i := range batch {
		if j.dedup.has(recordKey{batch[i].CallID, batch[i].Attempt}) {
			continue
		}
		var err error
		if j.buf, err = encodeLine(j.buf, &batch[i]); err != nil {
			return fmt.Errorf("billing: jsonl: %w", err)
		}
		fresh++
	}
	if fresh == 0 {
		return nil
	}
	if err := j.rotateIfDue(int64(len(j.buf))); err != nil {
		return err
	}
	if _, err := j.f.Write(j.buf); err != nil {
		_ = j.f.Truncate(j.size) // a retry must not find half a batch
		_, _ = j.f.Seek(j.size, io.SeekStart)
		return fmt.Errorf("billing: jsonl: %w", err)
	}
	j.size += int64(len(j.buf))
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("billing: jsonl: %w", err)
	}
	for i := range batch {
		j.dedup.add(recordKey{batch[i].CallID, batch[i].Attempt})
	}
	return nil
}

func (j *JSONL) rotateIfDue(n int64) error {
	now := j.clock.Now().UTC()
	today := now.Format(time.DateOnly)
	if j.size == 0 || (j.size+n <= j.cfg.MaxBytes && (!j.cfg.Daily || today == j.day)) {
		return nil
	}
	if err := j.f.Close(); err != nil {
		return fmt.Errorf("billing: jsonl: %w", err)
	}
	j.f = nil
	ext := filepath.Ext(j.cfg.Path)
	stem := strings.TrimSuffix(j.cfg.Path, ext)
	name := stem + "-" + now.Format("20060102T150405.000000000Z") + ext
	for i := 1; ; i++ {
		if _, err := os.Stat(name); errors.Is(err, os.ErrNotExist) {
			break
		}
		name = fmt.Sprintf("%s-%s-%d%s", stem, now.Format("20060102T150405.000000000Z"), i, ext)
	}
	if err := os.Rename(j.cfg.Path, name); err != nil {
		_ = j.open()
		return fmt.Errorf("billing: jsonl: rotate: %w", err)
	}
	return j.open() // keeps the dedup window: it outlives the file
}

// Close closes the file. Write fails afterwards.
func (j *JSONL) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed || j.f == nil {
		j.closed = true
		return nil
	}
	j.closed = true
	err := j.f.Close()
	j.f = nil
	return err
}

// recordKey is a record's idempotency key.
type recordKey struct {
	call    string
	attempt int
}

// dedupWindow remembers the latest n keys: a set and a ring of its
// insertion order, so the oldest is forgotten first.
type dedupWindow struct {
	set   map[recordKey]struct{}
	order []recordKey
	next  int
}

func newDedupWindow(n int) dedupWindow {
	return dedupWindow{set: make(map[recordKey]struct{}, n), order: make([]recordKey, 0, n)}
}

func (d *dedupWindow) has(k recordKey) bool { _, ok := d.set[k]; return ok }

func (d *dedupWindow) add(k recordKey) {
	if d.has(k) {
		return
	}
	if len(d.order) < cap(d.order) {
		d.order = append(d.order, k)
	} else {
		delete(d.set, d.order[d.next])
		d.order[d.next] = k
		d.next = (d.next + 1) % len(d.order)
	}
	d.set[k] = struct{}{}
}
