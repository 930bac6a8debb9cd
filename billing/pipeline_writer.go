package billing

import (
	"slices"
	"time"

	"github.com/llmgate/gateway/internal/clock"
)

// walBatch is what the writer appended in one write: where it lies in the
// log and, for the workers that are caught up, the records themselves
// (shared, read-only).
type walBatch struct {
	start, end walPos
	recs       []Record
}

// writeLoop is the buffer's one consumer. It parks when the buffer is empty
// (the next Enqueue wakes it) and wakes for nothing else but a producer
// blocked on the overflow, a Sync, a Close, or the fsync due SyncInterval
// after a write, which it hands to syncLoop. It fsyncs itself only for a
// Sync and at Close, whose callers wait for the disk anyway.
func (p *Pipeline) writeLoop() {
	defer p.wg.Done()
	defer close(p.writerDone)
	batchMax := p.cfg.BatchSize // a sink's batch is made of whole appends
	var (
		buf      = make([]Record, 0, batchMax)
		frames   []byte
		syncC    <-chan time.Time
		stopSync func() bool
		lastSync = p.clock.Now()
	)
	commit := func(recs []Record) bool {
		for {
			var err error
			frames, err = p.log(recs, frames[:0])
			if err == nil {
				return true
			}
			p.walErrors.Add(1)
			// The log refused the batch (disk full, MaxDiskBytes reached
			// while a sink is down). Keep it and try again: the buffer
			// fills meanwhile and Enqueue's own spill attempts report the
			// refusals. Only an aborted Close gives up, and counts them.
			if clock.Sleep(p.abortCtx, p.clock, p.cfg.RetryBase) != nil {
				// Close was aborted: these and whatever is still
				// buffered are lost, and counted.
				end := p.ring.shut()
				p.dropped.Add(uint64(len(recs)) + end - p.ring.head)
				return false
			}
		}
	}
	syncNow := func() error {
		if stopSync != nil {
			stopSync()
			syncC, stopSync = nil, nil
		}
		lastSync = p.clock.Now()
		return p.wal.sync()
	}
	// kickSync hands the SyncInterval fsync to syncLoop: the writer goes
	// on appending while the disk works.
	kickSync := func() {
		syncC, stopSync = nil, nil
		lastSync = p.clock.Now()
		select {
		case p.syncKick <- struct{}{}:
		default: // one is pending: it covers these appends too
		}
	}
	var (
		carry     Record // what the parked writer received from the overflow
		haveCarry bool
	)
	// fromOverflow adds blocked producers' records to buf, up to n in all.
	fromOverflow := func(n int) {
		for len(buf) < n {
			select {
			case r := <-p.overflow:
				buf = append(buf, r)
				continue
			default:
			}
			break
		}
	}
	// take fills buf from the carried record, the overflow and the buffer.
	// Half a batch goes to blocked producers first: a full buffer would
	// otherwise fill every batch, and they would all wait out BlockTimeout
	// and spill.
	take := func() {
		buf = buf[:0]
		if haveCarry {
			buf, haveCarry = append(buf, carry), false
		}
		fromOverflow(max(batchMax/2, 1))
		buf = p.ring.drain(buf, batchMax-len(buf))
		fromOverflow(batchMax)
	}
	drainTo := func(end uint64) bool {
		for {
			buf = buf[:0]
			fromOverflow(max(batchMax/2, 1))
			buf = p.ring.drainTo(buf, end, batchMax-len(buf))
			fromOverflow(batchMax)
			if len(buf) == 0 {
				return true
			}
			if !commit(buf) {
				return false
			}
		}
	}
	for {
		take()
		if len(buf) > 0 {
			if !commit(buf) {
				return
			}
			if syncC == nil {
				syncC, stopSync = p.clock.NewTimer(max(p.cfg.SyncInterval-p.clock.Now().Sub(lastSync), 0))
			}
		}
		select {
		case <-syncC:
			kickSync()
		case done := <-p.syncReq:
			// Everything accepted before the request is drained by now
			// unless a producer is between its claim and its publish:
			// drain to the tail seen here, then sync.
			if !drainTo(p.ring.pushed()) {
				done <- ErrClosed
				return
			}
			done <- syncNow()
		default:
		}
		if len(buf) > 0 {
			continue
		}
		select {
		case <-p.closing:
			if drainTo(p.ring.shut()) {
				_ = syncNow()
			}
			return
		default:
		}
		p.sleeping.Store(true)
		if p.ring.pending() {
			p.sleeping.Store(false)
			continue
		}
		select {
		case <-p.wake:
		case carry = <-p.overflow:
			haveCarry = true
		case <-syncC:
			kickSync()
		case done := <-p.syncReq:
			p.sleeping.Store(false)
			if !drainTo(p.ring.pushed()) {
				done <- ErrClosed
				return
			}
			done <- syncNow()
		case <-p.closing:
		}
		p.sleeping.Store(false)
	}
}

// syncLoop runs the fsyncs writeLoop asks for (kickSync), so that no record
// waits in the buffer, out of the log, while the disk is slow. It ends with
// the writer, which syncs what is left itself (Close waits for both).
func (p *Pipeline) syncLoop() {
	defer p.wg.Done()
	for {
		select {
		case <-p.syncKick:
			if p.wal.sync() != nil {
				// Counted; the log stays unsynced, so the next timed
				// fsync, a Sync or Close tries again.
				p.walErrors.Add(1)
			}
		case <-p.writerDone:
			return
		}
	}
}

// log appends recs to the write-ahead log and fans them out.
func (p *Pipeline) log(recs []Record, frames []byte) ([]byte, error) {
	if p.discard {
		return frames, nil
	}
	if p.beforeLog != nil {
		p.beforeLog()
	}
	var kept []Record // recs without the records too large to log, if any
	for i := range recs {
		// One representation whichever way a sink gets the record: the
		// log keeps the instant in UTC, so the memory path does too.
		recs[i].Time = recs[i].Time.UTC()
		var ok bool
		if frames, ok = appendFrame(frames, &recs[i]); !ok {
			if kept == nil {
				kept = slices.Clone(recs[:i])
			}
			continue
		}
		if kept != nil {
			kept = append(kept, recs[i])
		}
	}
	tooLarge := 0
	if kept != nil {
		tooLarge, recs = len(recs)-len(kept), kept
	}
	var start, end walPos
	if len(recs) > 0 {
		var err error
		if start, end, err = p.wal.append(frames); err != nil {
			return frames, err // the retry encodes and counts again
		}
	}
	p.dropped.Add(uint64(tooLarge)) // counted, never silent
	if len(recs) == 0 {
		return frames, nil
	}
	p.logged.Add(uint64(len(recs)))
	b := walBatch{start: start, end: end, recs: slices.Clone(recs)}
	for _, s := range p.sinks {
		select {
		case s.in <- b:
			q := s.queued.Add(int64(len(b.recs)))
			if q+s.pendingN.Load() >= int64(p.cfg.BatchSize) || len(s.in) >= cap(s.in)/2 {
				s.poke() // a worker waiting for its flush takes them now
			}
		default:
			s.missed.Store(true) // it reads the log back when it gets to it
			s.poke()
		}
	}
	return frames, nil
}
