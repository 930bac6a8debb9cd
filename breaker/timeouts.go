package breaker

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/clock"
)

// TimeoutConfig configures Timeouts. Each limit is measured on Clock; a zero
// field takes its default, chosen for model APIs, where a non-streaming
// reasoning call may send its headers only after minutes of work, and a
// negative one is an error (Validate).
type TimeoutConfig struct {
	// Total bounds the whole attempt, body included. Default 30 min.
	Total time.Duration
	// Header bounds the wait for response headers. Default 10 min. For a
	// stream, the headers are known to have arrived when the provider's
	// transport reports them (net/http's does, through httptrace); until
	// then both Header and FirstToken apply. For an answer that is no
	// stream, they are known to have arrived when the attempt returns,
	// which, behind an attempt boundary, is once its first bytes are read
	// (the boundary checks that a model call's answer is JSON): Header
	// covers those bytes too, and for an adapter that translates a whole
	// answer at its first read (provider.Gemini) the whole answer.
	Header time.Duration
	// FirstToken bounds, for a stream, the time from the start of the
	// attempt to its first content event; the stream is held back at the
	// attempt boundary until then (see gateway.Chain), so a stall is
	// retried with nothing sent to the caller. Default
	// DefaultFirstTokenTimeout, the router's default too.
	FirstToken time.Duration
	// Idle bounds the time between two reads of the body that return
	// data. A healthy stream of any length is never cut by it. Default 2
	// min.
	Idle time.Duration
	// Clock is the source of time; nil means the system clock.
	Clock gateway.Clock
}

// Defaults of TimeoutConfig. DefaultFirstTokenTimeout is also the default of
// a router's first-token timeout: one default for one fact. Raise it for
// models that think long before their first token.
const (
	DefaultTotalTimeout      = 30 * time.Minute
	DefaultHeaderTimeout     = 10 * time.Minute
	DefaultFirstTokenTimeout = 5 * time.Minute
	DefaultIdleTimeout       = 2 * time.Minute
)

// Validate reports a negative limit.
func (c TimeoutConfig) Validate() error {
	if c.Total < 0 || c.Header < 0 || c.FirstToken < 0 || c.Idle < 0 {
		return fmt.Errorf("breaker: negative limit in TimeoutConfig (Total %v, Header %v, FirstToken %v, Idle %v)",
			c.Total, c.Header, c.FirstToken, c.Idle)
	}
	return nil
}

// Timeouts returns a middleware that bounds one attempt: the time to
// response headers, for a stream the time to its first content event, the
// time between reads of the body, and the whole. Unlike http.Client.Timeout
// it never cuts a healthy long stream: after the first content only Idle
// and Total apply.
//
// A limit reached before RoundTrip returns makes it return an error
// deriving from gateway.ErrUpstreamTimeout (Classify: Retryable, since the
// caller's own context has not ended); one reached while the body is read
// makes the read fail with that error (in server mode, a terminal SSE error
// event). Put Timeouts inside CircuitBreaker and Retry, so the breaker
// counts a stall and Retry tries again.
//
// Each attempt sets one deadline (a watchdog) among the middleware's, which
// share one timer on the clock; it is removed when the body is closed or
// read to its end, or when RoundTrip fails; closing the body releases
// everything. No goroutine runs unless a limit is due. It returns an error for an invalid config (Validate)
// and panics on a nil next. The returned RoundTripper is safe for concurrent
// use.
func Timeouts(cfg TimeoutConfig) (gateway.Middleware, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.Total, DefaultTotalTimeout)
	def(&cfg.Header, DefaultHeaderTimeout)
	def(&cfg.FirstToken, DefaultFirstTokenTimeout)
	def(&cfg.Idle, DefaultIdleTimeout)
	cfg.Clock = clock.Or(cfg.Clock)
	deadlines := clock.NewDeadlines(cfg.Clock) // one timer for every attempt under this middleware
	return func(next http.RoundTripper) http.RoundTripper {
		if next == nil {
			panic("breaker: nil RoundTripper")
		}
		return &timeoutTransport{cfg: cfg, next: next, deadlines: deadlines}
	}, nil
}

type timeoutTransport struct {
	cfg       TimeoutConfig
	next      http.RoundTripper
	deadlines *clock.Deadlines
}

func (t *timeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	return t.roundTrip(req, ctx, cancel)
}

// roundTrip bounds the attempt req under ctx, the attempt's own context:
// cancel cancels it and nothing else, and roundTrip cancels it when the
// attempt ends (its body closed, or its error returned), or with the limit's
// error when one passes. req is sent under ctx (or a child of it that
// reports the response headers), copied once if its context is another.
// Hedge, which makes such a context for each of its attempts, calls it
// directly when Timeouts is the layer inside it, so that an attempt has one
// context and one request copy, not two of each (a later hedge of a stream
// that gets the first-token trace is copied twice: by Hedge, for its body,
// and here, for the trace).
func (t *timeoutTransport) roundTrip(req *http.Request, ctx context.Context, cancel context.CancelCauseFunc) (*http.Response, error) {
	stream := false
	if c := gateway.CallFrom(ctx); c != nil {
		stream = c.Stream
	}
	w := newWatchdog(&t.cfg, t.deadlines, cancel, stream)
	if stream && t.cfg.Header <= t.cfg.FirstToken {
		// A transport that reports the response headers (net/http's) moves
		// the attempt from the header phase to the first-token phase. With
		// a Header limit over FirstToken that changes nothing (the header
		// phase of a stream is already bounded by FirstToken, under its
		// name), so no trace is set: it costs a stream a few allocations.
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			GotFirstResponseByte: func() { w.setPhase(phaseFirstToken) },
		})
	}
	if ctx != req.Context() {
		req = req.WithContext(ctx)
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		w.stop()
		cancel(nil)
		if cause := w.cause(); cause != nil {
			return nil, cause
		}
		return nil, err
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	w.setPhase(phaseBody)
	w.body.w, w.body.cancel, w.body.body = w, cancel, resp.Body
	resp.Body = &w.body
	return resp, nil
}

type phase uint8

const (
	phaseHeader phase = iota
	phaseFirstToken
	phaseBody
)

// watchdog cancels an attempt's context when the limit of its current
// phase passes. It is one deadline among its middleware's (clock.Deadlines:
// one timer for all of them), set no later than the earliest limit the
// attempt can reach from its current phase, so that a phase change need not
// touch it; when it passes the watchdog checks the limit of the phase it
// finds (a later phase's, a read that moved the idle limit later) and sets
// the deadline again if that has not passed. No goroutine waits for it, and
// a call that ends before its limits costs a list entry added and removed.
type watchdog struct {
	cfg    *TimeoutConfig
	cancel context.CancelCauseFunc
	start  time.Time
	stream bool

	lastRead atomic.Int64 // ns since start of the last read that returned data

	deadlines *clock.Deadlines
	deadline  clock.Deadline

	mu      sync.Mutex
	phase   phase
	stopped bool
	fired   *gateway.Error

	body timeoutBody // the attempt's body, in the watchdog's allocation
}

func newWatchdog(cfg *TimeoutConfig, deadlines *clock.Deadlines, cancel context.CancelCauseFunc, stream bool) *watchdog {
	now := cfg.Clock.Now()
	w := &watchdog{cfg: cfg, cancel: cancel, start: now, stream: stream, deadlines: deadlines}
	w.mu.Lock()
	w.armLocked(now)
	w.mu.Unlock()
	return w
}

// deadlineLocked returns when the current phase's limit passes, and which limit
// that is. The caller holds mu.
func (w *watchdog) deadlineLocked() (time.Time, limit) {
	var at time.Time
	var l limit
	switch w.phase {
	case phaseHeader:
		at, l = w.start.Add(w.cfg.Header), limitHeader
		if ft := w.start.Add(w.cfg.FirstToken); w.stream && ft.Before(at) {
			at, l = ft, limitFirstToken
		}
	case phaseFirstToken:
		at, l = w.start.Add(w.cfg.FirstToken), limitFirstToken
	default:
		at, l = w.start.Add(time.Duration(w.lastRead.Load())+w.cfg.Idle), limitIdle
	}
	if total := w.start.Add(w.cfg.Total); total.Before(at) {
		at, l = total, limitTotal
	}
	return at, l
}

type limit uint8

const (
	limitHeader limit = iota
	limitFirstToken
	limitIdle
	limitTotal
)

// err returns the error for l.
func (w *watchdog) err(l limit) *gateway.Error {
	var msg string
	switch l {
	case limitHeader:
		if w.stream {
			msg = "breaker: no response headers within " + w.cfg.Header.String()
		} else {
			msg = "breaker: no response headers and first bytes within " + w.cfg.Header.String()
		}
	case limitFirstToken:
		msg = "breaker: no stream content within " + w.cfg.FirstToken.String()
	case limitIdle:
		msg = "breaker: no data from upstream for " + w.cfg.Idle.String()
	default:
		msg = "breaker: attempt exceeded its total timeout of " + w.cfg.Total.String()
	}
	return gateway.ErrUpstreamTimeout.WithMessage(msg)
}

// armLocked cancels the attempt when the current phase's limit has passed
// at now, a clock reading taken before the caller locked mu; otherwise it
// sets the deadline (none is pending) at that limit, or sooner at the
// earliest a later phase's limit can be: the first-token limit is already
// among the current phase's, and the body's idle limit counts from a read
// no earlier than now. The caller holds mu, so a cancellation happens
// before stop or cause can look: once stop has returned, the attempt is
// never cancelled by a limit.
func (w *watchdog) armLocked(now time.Time) {
	at, l := w.deadlineLocked()
	if !now.Before(at) {
		w.fired = w.err(l)
		w.stopped = true
		w.cancel(w.fired)
		return
	}
	wake := at
	if idle := now.Add(w.cfg.Idle); w.phase < phaseBody && idle.Before(wake) {
		wake = idle
	}
	w.deadlines.Add(&w.deadline, wake, w)
}

// Expire implements clock.Expirer, called when the deadline passes: the
// limit may have passed, or the deadline was set for a later phase's, or a
// read moved the idle limit later, so the limit is checked again.
func (w *watchdog) Expire() {
	// Read the clock before the deadline (in armLocked): a read of the body
	// between the two then only moves the deadline later. In the other
	// order, a read and the passing of time in between would pair a stale
	// last read with a fresh clock, and cut a stream that is not idle.
	now := w.cfg.Clock.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.armLocked(now)
	}
}

// setPhase moves to phase p, never back. The deadline already passes no later
// than the new phase's limit, which counts from clock readings taken before
// this returns (the start, and for the body phase the read that entering it
// counts as, so Idle runs from there).
func (w *watchdog) setPhase(p phase) {
	if p == phaseBody {
		w.touch()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if p > w.phase {
		w.phase = p
	}
}

func (w *watchdog) touch() { w.lastRead.Store(int64(w.cfg.Clock.Now().Sub(w.start))) }

// stop ends the watchdog: after it returns, no limit cancels the attempt.
// Safe to call more than once.
func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.deadlines.Remove(&w.deadline)
}

// cause returns the limit that fired, or nil.
func (w *watchdog) cause() *gateway.Error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fired
}

// timeoutBody is a response body under a watchdog. Read and Close may be
// called concurrently (Close unblocks a Read).
type timeoutBody struct {
	w      *watchdog
	cancel context.CancelCauseFunc
	body   io.ReadCloser
	closed atomic.Bool
}

func (b *timeoutBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if n > 0 {
		b.w.touch()
	}
	if err != nil {
		if err == io.EOF {
			b.w.stop()
			return n, err
		}
		if cause := b.w.cause(); cause != nil {
			return n, cause
		}
	}
	return n, err
}

func (b *timeoutBody) Close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return nil
	}
	b.w.stop()
	err := b.body.Close()
	b.cancel(context.Canceled)
	return err
}
