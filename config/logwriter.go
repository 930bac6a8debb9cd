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
const logLinger = 5 * time.Millisecond

// logWriter takes the log's lines off the calls' path: Write appends to a
// buffer and wakes one goroutine, which writes whatever has gathered in a
// single write. An idle gateway's line is written at once; a line that
// comes within logLinger of the last write waits for the rest of it, so
// under load the writer makes at most one write, and is woken at most
// once, per logLinger, however many calls end in it (where a write per
// line, or a wake per few lines, was work on every call's path). Close
// writes what is left and ends the goroutine; a Write after Close goes
// straight to the destination. A process killed without Close loses the
// lines of the last logLinger at most.
//
// Write never fails: the destination's errors are dropped, as a log has
// nowhere to report them. It is safe for concurrent use.
type logWriter struct {
	dst  io.Writer
	wake chan struct{} // one token: lines are pending
	done chan struct{} // closed when the goroutine has ended

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
	w := &logWriter{dst: dst, clock: clk, wake: make(chan struct{}, 1), done: make(chan struct{})}
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

// linger waits for d, while more lines gather; the wake tokens their
// Writes send are taken meanwhile, as those lines go out with this write.
// It ends early, and reports false, when Close closes wake.
func (w *logWriter) linger(d time.Duration) (open bool) {
	passed, stop := w.clock.NewTimer(d)
	for {
		select {
		case <-passed:
			return true
		case _, open := <-w.wake:
			if !open {
				stop()
				return false
			}
		}
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
