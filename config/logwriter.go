package config

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/clock"
)

// maxPendingLog bounds the log bytes waiting for the writer: past it, a
// call's Write waits for them to be written, so a log that cannot keep up
// slows the calls instead of growing without bound.
const maxPendingLog = 1 << 20

// logLinger is the least time between two of the writer's writes: the lines
// that arrive within it of the last write gather and go out together in the
// next, at most logLinger later than they would have.
const logLinger = 50 * time.Millisecond

// logWriter takes the log's lines off the calls' path: Write appends to a
// buffer and wakes one goroutine, which writes whatever has gathered in a
// single write. An idle gateway's line is written at once; a line that
// comes within logLinger of the last write waits for the rest of it, so
// under load the writer makes at most one write, and is woken twice (a
// line's token, then the linger's timer), per logLinger, however many
// calls end in it (where a write per line, or a wake per line, was work on
// every call's path); half of maxPendingLog pending ends a linger early.
// Close writes what is left and ends the goroutine; a Write after Close goes
// straight to the destination. A process killed without Close loses the
// lines of the last logLinger at most.
//
// Write never fails: the destination's errors are dropped, as a log has
// nowhere to report them. It is safe for concurrent use.
type logWriter struct {
	dst     io.Writer
	wake    chan struct{} // one token: lines are pending
	full    chan struct{} // one token: half of maxPendingLog is pending, which ends a linger
	closing chan struct{} // closed by Close: ends a linger at once
	done    chan struct{} // closed when the goroutine has ended

	mu      sync.Mutex
	drained sync.Cond // signalled when the goroutine takes the pending lines
	pending []byte
	spare   []byte // the buffer written last, reused
	closed  bool

	clock gateway.Clock // when the last write was, and the linger's wait
}

func newLogWriter(dst io.Writer) *logWriter { return newLogWriterClock(dst, clock.System{}) }

// newLogWriterClock is newLogWriter whose linger runs on clk.
func newLogWriterClock(dst io.Writer, clk gateway.Clock) *logWriter {
	w := &logWriter{dst: dst, clock: clk, wake: make(chan struct{}, 1), full: make(chan struct{}, 1),
		closing: make(chan struct{}), done: make(chan struct{})}
	w.drained.L = &w.mu
	go w.run()
	return w
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	for len(w.pending) >= maxPendingLog && !w.closed {
		w.drained.Wait()
	}
	if w.closed {
		w.mu.Unlock()
		_, _ = w.dst.Write(p)
		return len(p), nil
	}
	w.pending = append(w.pending, p...)
	select { // under mu: Close closes wake only after setting closed
	case w.wake <- struct{}{}:
	default: // the goroutine is already woken
	}
	if len(w.pending) >= maxPendingLog/2 {
		select { // a linger ends, before the calls must wait for the writer
		case w.full <- struct{}{}:
		default:
		}
	}
	w.mu.Unlock()
	return len(p), nil
}

func (w *logWriter) run() {
	defer close(w.done)
	var last time.Time // when the last write began; zero: none yet
	for {
		_, open := <-w.wake
		if open && !last.IsZero() {
			if wait := logLinger - w.clock.Now().Sub(last); wait > 0 {
				open = w.linger(wait)
			}
		}
		w.mu.Lock()
		// The token of the lines taken here, if one came while the writer
		// lingered, goes with them (Write sends it under mu): left in
		// place it would wake the writer once more for nothing.
		select {
		case _, ok := <-w.wake:
			open = open && ok
		default:
		}
		select {
		case <-w.full:
		default:
		}
		out := w.pending
		w.pending, w.spare = w.spare[:0], nil
		w.drained.Broadcast()
		w.mu.Unlock()
		if len(out) > 0 {
			last = w.clock.Now() // before the write, which a reader may see at once
			_, _ = w.dst.Write(out)
		}
		w.mu.Lock()
		if cap(out) <= maxPendingLog {
			w.spare = out
		}
		w.mu.Unlock()
		if !open {
			return
		}
	}
}

// linger waits for d, while more lines gather. It does not take the wake
// tokens their Writes send, so no line wakes the writer while it lingers:
// the writer wakes once per linger, for its timer. It ends early when half
// of maxPendingLog has gathered, so a busy log does not make the calls wait
// for the linger, and ends early reporting false when Close begins.
func (w *logWriter) linger(d time.Duration) (open bool) {
	passed, stop := w.clock.NewTimer(d)
	select {
	case <-passed:
		return true
	case <-w.full:
		stop()
		return true
	case <-w.closing:
		stop()
		return false
	}
}

// Close writes the pending lines and ends the goroutine. Safe to call more
// than once.
func (w *logWriter) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.done
		return nil
	}
	w.closed = true
	w.drained.Broadcast()
	w.mu.Unlock()
	close(w.closing)
	close(w.wake)
	<-w.done
	return nil
}

// logInfo logs msg with attrs at LevelInfo, as Logger.LogAttrs does but
// without looking up the caller's frame, which LogAttrs does for every line
// (runtime.Callers) whether or not the handler shows the source: ours never
// does, and the lookup was a tenth of the access log's cost.
func logInfo(logger *slog.Logger, msg string, attrs []slog.Attr) {
	ctx := context.Background()
	h := logger.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	if lh, ok := h.(*logHandler); ok {
		_ = lh.log(slog.LevelInfo, msg, attrs)
		return
	}
	r := slog.NewRecord(time.Now(), slog.LevelInfo, msg, 0)
	r.AddAttrs(attrs...)
	_ = h.Handle(ctx, r)
}
