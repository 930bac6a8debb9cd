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
)

// BulkheadConfig configures a Bulkhead. The zero value refuses at once a
// call that finds every slot taken, with a fixed limit.
type BulkheadConfig struct {
	// MaxWait is how long a call may wait for a slot before it is refused
	// with ErrBulkheadFull. Zero means it does not wait.
	MaxWait time.Duration
	// Adaptive makes the limit move between MinLimit and the maximum given
	// to NewBulkhead, additive-increase/multiplicative-decrease: each
	// success raises it by 1/limit, each failure (Class.Failure, including
	// a timeout) cuts it by Backoff. A provider that slows down or fails
	// gets fewer concurrent calls without anyone tuning it.
	Adaptive bool
	// MinLimit is the floor of an adaptive limit. Default 1.
	MinLimit int
	// Backoff is the factor an adaptive limit is multiplied by on a
	// failure, in (0, 1). Default 0.9.
	Backoff float64
	// Classify decides what counts as a failure for an adaptive limit; nil
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

	mu       sync.Mutex
	inflight int
	limit    float64
	wake     chan struct{} // closed and replaced when a slot frees

	inflightGauge atomic.Int64
}

// NewBulkhead returns a bulkhead allowing maxConcurrent calls in flight (the
// ceiling, when adaptive). It panics if maxConcurrent < 1 or cfg holds a
// negative or out-of-range value.
func NewBulkhead(maxConcurrent int, cfg BulkheadConfig) *Bulkhead {
	if cfg.MinLimit == 0 {
		cfg.MinLimit = 1
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = 0.9
	}
	if maxConcurrent < 1 || cfg.MaxWait < 0 || cfg.MinLimit < 1 || cfg.MinLimit > maxConcurrent ||
		!(cfg.Backoff > 0 && cfg.Backoff < 1) {
		panic(fmt.Sprintf("breaker: invalid bulkhead (max %d, %+v)", maxConcurrent, cfg))
	}
	if cfg.Classify == nil {
		cfg.Classify = Classify
	}
	cfg.Clock = gateway.ClockOrSystem(cfg.Clock)
	return &Bulkhead{cfg: cfg, max: maxConcurrent, limit: float64(maxConcurrent), wake: make(chan struct{})}
}

// InFlight returns the calls holding a slot.
func (b *Bulkhead) InFlight() int { return int(b.inflightGauge.Load()) }

// Limit returns the current limit (fixed unless adaptive).
func (b *Bulkhead) Limit() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return int(b.limit)
}

// Acquire takes a slot, waiting up to MaxWait (and no longer than ctx), or
// returns an error deriving from ErrBulkheadFull, or ctx's error. Each
// successful Acquire must be followed by exactly one Release.
func (b *Bulkhead) Acquire(ctx context.Context) error {
	var timer gateway.Timer
	for {
		b.mu.Lock()
		if b.inflight < int(b.limit) {
			b.inflight++
			b.inflightGauge.Add(1)
			b.mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			return nil
		}
		wake := b.wake
		b.mu.Unlock()
		if b.cfg.MaxWait <= 0 {
			return ErrBulkheadFull
		}
		if timer == nil {
			timer = b.cfg.Clock.NewTimer(b.cfg.MaxWait)
		}
		select {
		case <-wake:
		case <-timer.C():
			return ErrBulkheadFull
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
	}
}

// Release gives a slot back, with the outcome of its call for an adaptive
// limit.
func (b *Bulkhead) Release(c Class) {
	b.mu.Lock()
	b.inflight--
	b.inflightGauge.Add(-1)
	if b.cfg.Adaptive {
		switch {
		case c.Failure():
			b.limit = max(b.limit*b.cfg.Backoff, float64(b.cfg.MinLimit))
		case c == Success:
			b.limit = min(b.limit+1/b.limit, float64(b.max))
		}
	}
	close(b.wake)
	b.wake = make(chan struct{})
	b.mu.Unlock()
}

// Middleware returns the bulkhead as a middleware over one target. Over a
// gateway.Provider it returns a Provider with the same name.
func (b *Bulkhead) Middleware() gateway.Middleware {
	return func(next http.RoundTripper) http.RoundTripper {
		if next == nil {
			panic("breaker: nil RoundTripper")
		}
		return keepName(next, &bulkheadTransport{b: b, next: next})
	}
}

type bulkheadTransport struct {
	b    *Bulkhead
	next http.RoundTripper
}

func (t *bulkheadTransport) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	if err := t.b.Acquire(req.Context()); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	held := true
	defer func() {
		if held { // next or the classifier panicked
			t.b.Release(Canceled)
		}
	}()
	resp, err = t.next.RoundTrip(req)
	c := t.b.cfg.Classify(req, resp, err)
	if err != nil || resp == nil || resp.Body == nil || resp.Body == http.NoBody {
		held = false
		t.b.Release(c)
		return resp, err
	}
	held = false
	out := *resp
	out.Body = &slotBody{ReadCloser: resp.Body, b: t.b, c: c}
	return &out, nil
}

// slotBody releases its call's slot when it is closed or read to its end.
type slotBody struct {
	io.ReadCloser
	b    *Bulkhead
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

func (s *slotBody) Close() error {
	err := s.ReadCloser.Close()
	s.release(s.c)
	return err
}

func (s *slotBody) release(c Class) {
	if s.done.CompareAndSwap(false, true) {
		s.b.Release(c)
	}
}
