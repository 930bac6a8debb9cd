package billing

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/llmgate/gateway/internal/clock"
)

var (
	// ErrClosed is returned by Enqueue after Close has begun.
	ErrClosed = errors.New("billing: pipeline is closed")
	// ErrDropped is returned by Enqueue for a record it could neither
	// buffer nor append to the write-ahead log (the log is at MaxDiskBytes
	// or its disk fails). The record is counted in Stats.Dropped.
	ErrDropped = errors.New("billing: record dropped: buffer full and write-ahead log unwritable")

	errRecordTooLarge = errors.New("billing: record too large for the write-ahead log")
)

// Pipeline is the Recorder that carries records to Sinks: an in-memory
// buffer on the request path, a write-ahead log behind it, and one worker a
// sink that sends batches with retries. It is safe for concurrent use.
//
// Enqueue copies the record into a bounded lock-free buffer: no lock, no
// allocation, and no goroutine is woken unless the writer is asleep. The
// writer appends whatever the buffer holds to the write-ahead log in one
// write, then hands the batch to every sink's worker; a worker that is
// behind (its sink slow or down) reads the log back instead, so one sink
// never holds up another and the buffer never waits for a sink. A segment
// of the log is deleted when every sink has acknowledged it.
//
// When a record is durable: it survives the process being killed (SIGKILL,
// a panic) once it is in the log, which the writer does as soon as it
// runs — microseconds after Enqueue returns while the writer keeps up; a
// record still in the buffer then is lost with the process. The
// SyncInterval fsync runs on a goroutine of its own, so a slow fsync does
// not hold records in the buffer; the writer waits for the disk only for a
// Sync, whose caller waits too, and at Close. A record
// survives a machine crash after the next fsync, at most SyncInterval
// later (plus the fsync before it, if that is still running). Sync waits
// for both. A record Enqueue spills is in the log before it returns.
//
// On start, NewPipeline replays what a previous run left in the log: each
// sink resumes from its last acknowledged cursor, so it is offered again at
// most the batches that were in flight, which its (CallID, Attempt) dedup
// absorbs (the Sink contract).
//
// Nothing is dropped silently: a full buffer blocks Enqueue up to
// BlockTimeout, then the record is appended to the log by Enqueue itself;
// only when that fails too is it refused with ErrDropped; a batch a sink
// keeps refusing goes to that sink's dead-letter file. Stats counts each.
type Pipeline struct {
	cfg   PipelineConfig
	clock clock.Clock
	ring  *ring
	wal   *wal
	sinks []*sinkWorker

	_        [64]byte
	sleeping atomic.Bool   // the writer is parked; the next push wakes it
	_        [63]byte      // every Enqueue reads it: no other writes on its line
	wake     chan struct{} // cap 1
	syncReq  chan chan error
	syncKick chan struct{} // cap 1: the writer asks syncLoop for the SyncInterval fsync

	ackMu sync.Mutex // the sinks' acknowledged positions

	overflow chan Record // unbuffered: producers the full buffer blocks

	closeOnce  sync.Once
	closing    chan struct{} // Close has begun
	writerDone chan struct{} // the writer has logged the last record
	abort      chan struct{} // Close's context ended: stop now
	abortCtx   context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	closeErr   error
	closed     chan struct{} // closeErr is set

	blocked, overflowed, spilled, dropped, rejected, logged, walErrors atomic.Uint64

	// discard, set only by this package's benchmarks, makes the writer
	// free what it drains without logging it: it measures Enqueue alone.
	discard bool
	// beforeLog, set only by this package's tests, runs before each of the
	// writer's appends: a test stalls the writer with it.
	beforeLog func()
}

var _ Recorder = (*Pipeline)(nil)

// NewPipeline opens (or creates) the write-ahead log in cfg.Dir and starts
// the writer and one worker a sink, which first replay what a previous run
// left. Close stops them.
func NewPipeline(cfg PipelineConfig) (*Pipeline, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newPipeline(cfg.withDefaults(), nil)
}

// newPipeline builds the pipeline and calls setup (tests' hooks) before it
// starts its goroutines.
func newPipeline(cfg PipelineConfig, setup func(*Pipeline)) (*Pipeline, error) {
	w, err := openWAL(cfg.Dir, cfg.SegmentBytes, cfg.MaxDiskBytes)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pipeline{
		cfg:        cfg,
		clock:      clock.Or(cfg.Clock),
		ring:       newRing(cfg.Buffer),
		wal:        w,
		wake:       make(chan struct{}, 1),
		syncReq:    make(chan chan error),
		syncKick:   make(chan struct{}, 1),
		overflow:   make(chan Record),
		closing:    make(chan struct{}),
		writerDone: make(chan struct{}),
		abort:      make(chan struct{}),
		closed:     make(chan struct{}),
		abortCtx:   ctx,
		cancel:     cancel,
	}
	for _, name := range sortedNames(cfg.Sinks) {
		sw, err := newSinkWorker(p, name, cfg.Sinks[name])
		if err != nil {
			cancel()
			for _, s := range p.sinks {
				s.closeFiles()
			}
			return nil, errors.Join(err, w.close())
		}
		p.sinks = append(p.sinks, sw)
	}
	if setup != nil {
		setup(p)
	}
	p.wg.Add(2 + len(p.sinks))
	go p.writeLoop()
	go p.syncLoop()
	for _, s := range p.sinks {
		go s.run()
	}
	return p, nil
}

// Enqueue hands r to the pipeline. It returns nil once r is buffered or in
// the write-ahead log; ErrClosed after Close has begun; ErrDropped when the
// buffer stayed full for BlockTimeout and the log could not take r. A
// buffered record survives the process dying only once the writer has
// appended it to the log, microseconds later while it keeps up (Sync waits
// for that); see docs/billing-pipeline.md. It is safe for concurrent use
// and allocates nothing when the buffer has room.
func (p *Pipeline) Enqueue(r Record) error {
	if p.ring.push(&r) == pushed {
		if p.sleeping.Load() {
			p.wakeWriter()
		}
		return nil
	}
	return p.enqueueSlow(r)
}

func (p *Pipeline) wakeWriter() {
	if p.sleeping.Swap(false) {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// enqueueSlow hands r to the writer through the overflow channel, waiting
// up to BlockTimeout, then spills it to the log. Blocked producers queue on
// the channel and the writer takes them one by one as it gets to them, so a
// full buffer parks them (no spinning, no herd woken at once) and leaves
// the writer the CPU it needs to catch up. It takes r by value so that
// Enqueue's copy does not escape to the heap on the fast path.
func (p *Pipeline) enqueueSlow(rec Record) error {
	p.blocked.Add(1)
	if p.ring.push(&rec) == pushed { // room was made meanwhile
		p.wakeWriter()
		return nil
	}
	timer, stop := p.clock.NewTimer(p.cfg.BlockTimeout)
	defer stop()
	select {
	case p.overflow <- rec:
		p.overflowed.Add(1)
		return nil
	case <-p.closing:
		p.rejected.Add(1)
		return ErrClosed
	case <-timer:
	}
	select {
	case <-p.closing:
		p.rejected.Add(1)
		return ErrClosed
	default:
	}
	return p.spill(&rec)
}

// spill appends r to the write-ahead log from the producer's goroutine: the
// writer is behind, and the record must not wait in memory any longer.
func (p *Pipeline) spill(r *Record) error {
	frame, ok := appendFrame(nil, r)
	err := errRecordTooLarge
	if ok {
		_, _, err = p.wal.append(frame)
	}
	if err != nil {
		if errors.Is(err, errWALClosed) {
			p.rejected.Add(1)
			return ErrClosed
		}
		p.dropped.Add(1)
		return fmt.Errorf("%w: %w", ErrDropped, err)
	}
	p.spilled.Add(1)
	for _, s := range p.sinks {
		s.missed.Store(true) // no memory batch carries it: read the log
		s.poke()
	}
	return nil
}

// Sync waits until every record Enqueue accepted before the call is in the
// write-ahead log and synced to disk, so it survives a crash of the process
// or the machine. It returns ctx's error if ctx ends first.
func (p *Pipeline) Sync(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case p.syncReq <- done:
	case <-p.writerDone:
		return nil // Close logged and synced everything
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting records and drains: everything accepted is logged,
// and every sink is given everything in the log (retrying as configured)
// before it returns nil. If ctx ends first, Close stops the sinks at once
// and returns an error wrapping ctx's: what they had not acknowledged stays
// in the write-ahead log and is replayed by the next NewPipeline on the same
// Dir, so it is not lost. No goroutine of the pipeline outlives Close, so
// a Sink that ignores its context's end holds Close until its Write
// returns. Later calls return the first call's result.
func (p *Pipeline) Close(ctx context.Context) error {
	first := false
	p.closeOnce.Do(func() {
		first = true
		close(p.closing)
		p.wakeWriter()
		select {
		case p.wake <- struct{}{}:
		default:
		}
	})
	if !first {
		<-p.closed
		return p.closeErr
	}
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		close(p.abort)
		p.cancel()
		<-done
		err = fmt.Errorf("billing: pipeline closed before its sinks drained (the rest stays in %s for the next start): %w", p.cfg.Dir, context.Cause(ctx))
	}
	p.cancel()
	for _, s := range p.sinks {
		s.closeFiles()
	}
	p.closeErr = errors.Join(err, p.wal.close())
	close(p.closed)
	return p.closeErr
}
