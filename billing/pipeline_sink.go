package billing

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/llmgate/gateway/internal/clock"
)

var errWriteTimeout = errors.New("billing: sink write timed out (PipelineConfig.WriteTimeout)")

// sinkWorker carries the log to one Sink: from memory while it keeps up
// with the writer, from the log's files when it falls behind or restarts.
// Its position in the log is its reader's; what it has acknowledged is in
// its cursor file, so a restart offers it at most its in-flight batch again.
type sinkWorker struct {
	p    *Pipeline
	name string
	sink Sink

	in chan walBatch
	// queued counts the records in in, pendingN those in pending: the
	// writer wakes a worker waiting for its flush when together they make
	// a batch (pendingN is stored before queued drops, so the sum the
	// writer reads is never short).
	queued, pendingN atomic.Int64
	missed           atomic.Bool   // a batch or a spill reached the log without reaching in
	notify           chan struct{} // cap 1: wakes the worker to look at missed

	rd      *walReader
	cursor  *os.File
	dead    *deadLetter
	pending []Record
	marks   []mark // ends of the whole units in pending, in order
	acked   walPos // guarded by p.ackMu

	written, batches, retries, deadLettered, fromLog, corrupt atomic.Uint64
	lastErr                                                   atomic.Pointer[string]
}

// mark says that pending[:n] ends at end in the log.
type mark struct {
	n   int
	end walPos
}

func newSinkWorker(p *Pipeline, name string, s Sink) (*sinkWorker, error) {
	path := filepath.Join(p.cfg.Dir, "cursor-"+name)
	from := p.wal.start()
	if b, err := os.ReadFile(path); err == nil {
		var c walPos
		if _, err := fmt.Sscanf(string(b), "%x %x", &c.seg, &c.off); err == nil && !p.wal.end().less(c) {
			from = c
		} // an unreadable cursor, or one past the log (its files removed by
		// hand), replays the whole log: the sink dedups it
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("billing: sink %s cursor: %w", name, err)
	}
	w := &sinkWorker{
		p: p, name: name, sink: s,
		in:     make(chan walBatch, sinkQueue),
		notify: make(chan struct{}, 1),
		rd:     newWALReader(p.wal, from),
		cursor: f,
		dead:   &deadLetter{path: filepath.Join(p.cfg.Dir, "deadletter-"+name+".jsonl"), max: p.cfg.MaxDiskBytes},
	}
	w.acked = w.rd.pos
	return w, nil
}

// sinkQueue is how many batches the writer hands a sink worker in memory
// before it must read them from the log; the writer wakes a worker that
// waits for its flush once half of them are queued.
const sinkQueue = 64

func (w *sinkWorker) poke() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

func (w *sinkWorker) closeFiles() {
	w.rd.closeFile()
	w.cursor.Close()
}

func (w *sinkWorker) aborted() bool {
	select {
	case <-w.p.abort:
		return true
	default:
		return false
	}
}

func (w *sinkWorker) run() {
	defer w.p.wg.Done()
	batch := w.p.cfg.BatchSize
	var (
		flushC    <-chan time.Time
		stopFlush func() bool
		draining  bool
	)
	disarm := func() {
		if stopFlush != nil {
			stopFlush()
			flushC, stopFlush = nil, nil
		}
	}
	defer disarm()
	w.readLog(w.p.wal.end()) // what a previous run, or a spill, left
	for !w.aborted() {
		if w.missed.Swap(false) {
			w.readLog(w.p.wal.end())
			continue
		}
		if len(w.pending) >= batch || (draining && len(w.pending) > 0) {
			disarm()
			w.flush()
			continue
		}
		if draining {
			// The writer has logged its last record: take what is left.
			select {
			case b := <-w.in:
				w.received(b)
				continue
			default:
			}
			if end := w.p.wal.end(); w.rd.pos.less(end) {
				w.readLog(end)
				continue
			}
			return
		}
		if len(w.pending) > 0 && flushC == nil {
			flushC, stopFlush = w.p.clock.NewTimer(w.p.cfg.FlushInterval)
		}
		if flushC != nil {
			// A flush is due: what the writer hands over meanwhile waits in
			// in, and the writer pokes the worker only when the records
			// waiting make a batch or in is half full, so the worker is
			// woken per flush, not per record (a wake per record was a
			// thread's wake on every call's path).
			select {
			case <-w.notify:
				w.takeQueued()
			case <-flushC:
				flushC, stopFlush = nil, nil
				w.takeQueued()
				w.flush()
			case <-w.p.writerDone:
				draining = true
			case <-w.p.abort:
			}
			continue
		}
		select {
		case b := <-w.in:
			w.received(b)
		case <-w.notify:
		case <-flushC:
			flushC, stopFlush = nil, nil
			w.flush()
		case <-w.p.writerDone:
			draining = true
		case <-w.p.abort:
		}
	}
}

// takeQueued takes the batches waiting in in.
func (w *sinkWorker) takeQueued() {
	for {
		select {
		case b := <-w.in:
			w.received(b)
		default:
			return
		}
	}
}

// received takes a batch from in.
func (w *sinkWorker) received(b walBatch) {
	w.take(b)
	w.pendingN.Store(int64(len(w.pending)))
	w.queued.Add(-int64(len(b.recs)))
}

// take adds a batch the writer handed over, unless the worker already read
// it from the log; a gap before it (a spill, a batch that did not fit in
// the channel) is read from the log first.
func (w *sinkWorker) take(b walBatch) {
	if !w.rd.pos.less(b.end) {
		return
	}
	if w.rd.pos.less(b.start) {
		w.readLog(b.start)
	}
	if w.rd.pos != b.start {
		w.readLog(b.end) // aborted midway, or the batch was read in part
		return
	}
	w.pending = append(w.pending, b.recs...)
	w.rd.pos = b.end
	w.marks = append(w.marks, mark{len(w.pending), b.end})
}

// readLog reads the log into pending up to limit, flushing full batches.
func (w *sinkWorker) readLog(limit walPos) {
	defer func() { w.pendingN.Store(int64(len(w.pending))) }()
	batch := w.p.cfg.BatchSize
	for w.rd.pos.less(limit) && !w.aborted() {
		if len(w.pending) >= batch {
			w.flush()
			continue
		}
		before, at := len(w.pending), w.rd.pos
		var corrupt int
		var err error
		w.pending, corrupt, err = w.rd.read(w.pending, batch-len(w.pending), limit)
		w.corrupt.Add(uint64(corrupt))
		w.fromLog.Add(uint64(len(w.pending) - before))
		if w.rd.pos != at {
			w.marks = append(w.marks, mark{len(w.pending), w.rd.pos})
		}
		if err != nil {
			w.setErr(err)
			if clock.Sleep(w.p.abortCtx, w.p.clock, w.p.cfg.RetryBase) != nil {
				return
			}
			continue
		}
		if w.rd.pos == at {
			return // nothing more to read below limit
		}
	}
}

// flush gives the sink the longest run of whole units that fits in a
// batch (at least one), retrying with backoff, then dead-lettering. Only
// an aborted Close leaves it unwritten, and it stays in the log.
func (w *sinkWorker) flush() {
	if len(w.marks) == 0 {
		return
	}
	k := 0
	for k+1 < len(w.marks) && w.marks[k+1].n <= w.p.cfg.BatchSize {
		k++
	}
	m := w.marks[k]
	batch := w.pending[:m.n]
	if len(batch) > 0 && !w.deliver(batch) {
		return
	}
	w.ack(m.end)
	w.pending = slices.Delete(w.pending, 0, m.n)
	w.pendingN.Store(int64(len(w.pending)))
	w.marks = slices.Delete(w.marks, 0, k+1)
	for i := range w.marks {
		w.marks[i].n -= m.n
	}
}

// deliver writes batch to the sink or its dead-letter file. It reports
// false only when Close was aborted first.
func (w *sinkWorker) deliver(batch []Record) bool {
	cfg := w.p.cfg
	delay := cfg.RetryBase
	for attempt := 1; ; attempt++ {
		err := w.write(batch)
		if err == nil {
			w.written.Add(uint64(len(batch)))
			w.batches.Add(1)
			return true
		}
		w.setErr(err)
		if w.aborted() {
			return false
		}
		if attempt >= cfg.RetryAttempts {
			if derr := w.dead.write(batch); derr == nil {
				w.deadLettered.Add(uint64(len(batch)))
				return true
			} else {
				w.setErr(derr) // keep the batch and keep trying the sink
			}
		}
		w.retries.Add(1)
		if clock.Sleep(w.p.abortCtx, w.p.clock, delay) != nil {
			return false
		}
		delay = min(2*delay, cfg.RetryMax)
	}
}

// write calls the sink once, bounded by WriteTimeout; a panic is an error.
func (w *sinkWorker) write(batch []Record) (err error) {
	ctx, cancel := context.WithCancelCause(w.p.abortCtx)
	stop := clock.AfterFunc(w.p.clock, w.p.cfg.WriteTimeout, func() { cancel(errWriteTimeout) })
	defer func() {
		stop()
		cancel(nil)
		if v := recover(); v != nil {
			err = fmt.Errorf("billing: sink %s panicked: %v", w.name, v)
		}
	}()
	if err = w.sink.Write(ctx, batch); err == nil && ctx.Err() != nil {
		err = context.Cause(ctx) // it gave up but said nil: not known to be stored
	}
	return err
}

func (w *sinkWorker) setErr(err error) {
	s := err.Error()
	w.lastErr.Store(&s)
}

// ack records that everything before end is stored, in the cursor file
// (for the next start) and for the log's deletion of whole segments.
func (w *sinkWorker) ack(end walPos) {
	var b [34]byte
	copy(b[:], fmt.Sprintf("%016x %016x\n", end.seg, end.off))
	if _, err := w.cursor.WriteAt(b[:], 0); err != nil {
		w.setErr(err) // the next start replays more; the sink dedups it
	}
	if size := w.p.wal.segmentSize(end.seg); size >= 0 && end.off >= size {
		end = walPos{end.seg + 1, 0} // the end of a finished segment is the start of the next
	}
	w.p.ackMu.Lock()
	defer w.p.ackMu.Unlock()
	w.acked = end
	low := end
	for _, s := range w.p.sinks {
		if s.acked.less(low) {
			low = s.acked
		}
	}
	w.p.wal.release(low)
}
