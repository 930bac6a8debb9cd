package billing

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// Wait returns nil once no call the Meter has taken in is open: each one
// has ended and handed its records to the Recorder, and settled its hold.
// A shutdown calls it after the server has stopped and before it closes
// the Recorder, so that a call still in flight then (a stream the server's
// shutdown gave up on and cut) is recorded rather than refused. Calls that
// begin while it waits count too. If ctx ends first it returns an
// error wrapping ctx's, with the number still open. A call ends when its
// entry point ends it (client mode: when the caller closes the response
// body), so a body never closed keeps Wait until ctx ends. Wait is safe
// for concurrent use.
func (m *Meter) Wait(ctx context.Context) error {
	idle := m.open.idle()
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("billing: %d metered call(s) still open: %w", m.open.n.Load(), context.Cause(ctx))
	}
}

// openCalls counts the calls a Meter has taken in and not yet recorded. The
// count is an atomic on the calls' path; waiters take the mutex.
type openCalls struct {
	n  atomic.Int64
	mu sync.Mutex
	ch chan struct{} // closed when n reaches zero; nil: no waiter
}

func (o *openCalls) add() { o.n.Add(1) }

func (o *openCalls) done() {
	if o.n.Add(-1) != 0 {
		return
	}
	o.mu.Lock()
	if o.ch != nil && o.n.Load() == 0 {
		close(o.ch)
		o.ch = nil
	}
	o.mu.Unlock()
}

// idle returns a channel closed when no call is open, or nil when none is
// now.
func (o *openCalls) idle() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n.Load() == 0 {
		return nil
	}
	if o.ch == nil {
		o.ch = make(chan struct{})
	}
	return o.ch
}
