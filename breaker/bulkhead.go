package breaker

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/clock"
)

// BulkheadConfig configures a Bulkhead. The zero value is a fixed limit that
// refuses at once a call finding every slot taken.
type BulkheadConfig struct {
	// MaxWait is how long a call may wait for a slot before it is refused
	// with ErrBulkheadFull, read from Clock. Zero means it does not wait.
	MaxWait time.Duration
	// Adaptive makes the limit move between MinLimit and the maximum given
	// to NewBulkhead, starting at InitialLimit, by failsafe-go's
	// adaptivelimiter: it lowers the limit when recent call latencies trend
	// above their baseline and raises it while they do not, so a provider
	// that slows down under load gets fewer concurrent calls without anyone
	// tuning it. Only successful calls are measured (Record); a failure or
	// a cancellation gives its slot back without a sample (Drop). A call's
	// latency runs until its response body is closed or read to its end,
	// so a stream counts whole.
	//
	// failsafe-go's limiter measures latencies with its own wall clock, not
	// Clock: the one documented exception to "time comes from an
	// injectable clock" in this package. MaxWait still reads Clock.
	Adaptive bool
	// MinLimit is the floor of an adaptive limit. Default 1.
	MinLimit int
	// InitialLimit is where an adaptive limit starts, between MinLimit and
	// the maximum. Default the maximum, so a new Bulkhead admits what a
	// fixed one would until latencies say otherwise.
	InitialLimit int
	// Classify decides each call's outcome, for an adaptive limit; nil
	// means the package's Classify.
	Classify Classifier
	// Clock is the source of time for MaxWait; nil means the system clock.
	Clock gateway.Clock
}

// Bulkhead caps the calls in flight to one target, so a slow provider cannot
// absorb every goroutine of a service. A call holds its slot until its
// response body is closed or read to its end, or until it fails; the slot
// is released exactly once.
//
// A Bulkhead is safe for concurrent use.
type Bulkhead struct {
	cfg BulkheadConfig
	max int
	lim limiter // adaptive mode; nil for a fixed limit

	// Fixed mode.
	mu       sync.Mutex
	inflight int
	wake     chan struct{} // closed and replaced when a slot frees
	gauge    atomic.Int64
}

// Validate reports, for a Bulkhead of maxConcurrent slots, a maxConcurrent
// below 1, a negative MaxWait, or a MinLimit or InitialLimit out of
// [1, maxConcurrent] (once the defaults are applied).
func (c BulkheadConfig) Validate(maxConcurrent int) error {
	c = c.withDefaults(maxConcurrent)
	if maxConcurrent < 1 || c.MaxWait < 0 || c.MinLimit < 1 || c.MinLimit > maxConcurrent ||
		c.InitialLimit < c.MinLimit || c.InitialLimit > maxConcurrent {
		return fmt.Errorf("breaker: invalid bulkhead: max %d, MaxWait %v, MinLimit %d, InitialLimit %d",
			maxConcurrent, c.MaxWait, c.MinLimit, c.InitialLimit)
	}
	return nil
}

func (c BulkheadConfig) withDefaults(maxConcurrent int) BulkheadConfig {
	if c.MinLimit == 0 {
		c.MinLimit = 1
	}
	if c.InitialLimit == 0 {
		c.InitialLimit = maxConcurrent
	}
	return c
}

// NewBulkhead returns a bulkhead allowing maxConcurrent calls in flight (the
// ceiling, when adaptive), or an error for an invalid configuration
// (Validate).
func NewBulkhead(maxConcurrent int, cfg BulkheadConfig) (*Bulkhead, error) {
	if err := cfg.Validate(maxConcurrent); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults(maxConcurrent)
	if cfg.Classify == nil {
		cfg.Classify = Classify
	}
	cfg.Clock = clock.Or(cfg.Clock)
	b := &Bulkhead{cfg: cfg, max: maxConcurrent, wake: make(chan struct{})}
	if cfg.Adaptive {
		b.lim = newAdaptiveLimiter(cfg.MinLimit, maxConcurrent, cfg.InitialLimit)
	}
	return b, nil
}

// InFlight returns the calls holding a slot.
func (b *Bulkhead) InFlight() int {
	if b.lim != nil {
		return b.lim.Inflight()
	}
	return int(b.gauge.Load())
}

// Limit returns the current limit: the maximum, unless adaptive.
func (b *Bulkhead) Limit() int {
	if b.lim != nil {
		return b.lim.Limit()
	}
	return b.max
}

// Slot is one call's place in a Bulkhead. Exactly one Release must follow a
// successful Acquire; a Slot is a small value.
type Slot struct {
	b      *Bulkhead
	permit permit // adaptive mode
}

// Release gives the slot back, with the outcome of its call: an adaptive
// limit measures a Success and drops any other outcome unmeasured.
func (s Slot) Release(c Class) {
	if s.permit != nil {
		if c == Success {
			s.permit.Record()
		} else {
			s.permit.Drop()
		}
		return
	}
	s.b.release()
}

// Acquire takes a slot, waiting up to MaxWait (and no longer than ctx), or
// returns an error deriving from ErrBulkheadFull, or ctx's error.
func (b *Bulkhead) Acquire(ctx context.Context) (Slot, error) {
	if b.lim != nil {
		p, err := b.acquireAdaptive(ctx)
		return Slot{b: b, permit: p}, err
	}
	return Slot{b: b}, b.acquireFixed(ctx)
}

func (b *Bulkhead) acquireFixed(ctx context.Context) error {
	var fire <-chan time.Time
	var stop func() bool
	for {
		b.mu.Lock()
		if b.inflight < b.max {
			b.inflight++
			b.gauge.Add(1)
			b.mu.Unlock()
			if stop != nil {
				stop()
			}
			return nil
		}
		wake := b.wake
		b.mu.Unlock()
		if b.cfg.MaxWait <= 0 {
			return ErrBulkheadFull
		}
		if stop == nil {
			fire, stop = b.cfg.Clock.NewTimer(b.cfg.MaxWait)
		}
		select {
		case <-wake:
		case <-fire:
			return ErrBulkheadFull
		case <-ctx.Done():
			stop()
			return ctx.Err()
		}
	}
}

func (b *Bulkhead) release() {
	b.mu.Lock()
	b.inflight--
	b.gauge.Add(-1)
	close(b.wake)
	b.wake = make(chan struct{})
	b.mu.Unlock()
}

// Middleware returns the bulkhead as a middleware over one target.
func (b *Bulkhead) Middleware() gateway.Middleware {
	return func(next http.RoundTripper) http.RoundTripper {
		if next == nil {
			panic("breaker: nil RoundTripper")
		}
		return &bulkheadTransport{b: b, next: next}
	}
}

type bulkheadTransport struct {
	b    *Bulkhead
	next http.RoundTripper
}

func (t *bulkheadTransport) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	slot, err := t.b.Acquire(req.Context())
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	held := true
	defer func() {
		if held { // next or the classifier panicked
			slot.Release(Canceled)
		}
	}()
	resp, err = t.next.RoundTrip(req)
	c := t.b.cfg.Classify(req, resp, err)
	held = false
	if err != nil || resp == nil || resp.Body == nil || resp.Body == http.NoBody {
		slot.Release(c)
		return resp, err
	}
	out := *resp
	out.Body = &slotBody{ReadCloser: resp.Body, ctx: req.Context(), slot: slot, c: c}
	return &out, nil
}

// slotBody releases its call's slot when it is closed or read to its end,
// once.
type slotBody struct {
	io.ReadCloser
	ctx  context.Context
	slot Slot
	c    Class
	done atomic.Bool
}

func (s *slotBody) Read(p []byte) (int, error) {
	n, err := s.ReadCloser.Read(p)
	if err == io.EOF {
		s.release(s.c)
	} else if err != nil {
		s.release(Classify(nil, nil, err))
	}
	return n, err
}

// Close releases the slot with the call's class, or as Canceled when the
// caller's context ended first (a body abandoned midway measures nothing).
func (s *slotBody) Close() error {
	err := s.ReadCloser.Close()
	c := s.c
	if s.ctx.Err() != nil {
		c = Canceled
	}
	s.release(c)
	return err
}

func (s *slotBody) release(c Class) {
	if s.done.CompareAndSwap(false, true) {
		s.slot.Release(c)
	}
}
