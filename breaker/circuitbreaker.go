package breaker

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/clock"
)

// CircuitBreaker stops calls to one target (a provider, or one deployment of
// it) that keeps failing, so they fail fast or go elsewhere instead of
// waiting on it, and probes it again after a delay.
//
// It follows failsafe-go's circuit breaker model (count or time window,
// failure rate with a minimum of calls, delay, half-open trials) with its
// own small state machine rather than failsafe-go's: failsafe-go v0.9.8
// reads the wall clock (Config.Clock could not drive it), cannot give a
// half-open permit back without recording an outcome (a cancelled probe
// must count as nothing), and lets more than K trials through as earlier
// ones finish.
//
// The breaker records an outcome when the call's RoundTrip returns: at the
// response headers, or, for a stream, at its first content, where the
// attempt boundary below releases it (see gateway.Chain). A failure later in
// a body is the caller's to see and is not counted; nothing is held once
// RoundTrip has returned.
//
// It is also the one store of a target's cooldown: a 429 or 503 with a
// Retry-After, or a 429 without one (for Config.Cooldown), makes it refuse
// every call with ErrCoolingDown until the wait has passed, so no attempt
// reaches the target inside the window the upstream asked for. A router
// reads it (Ready) instead of keeping a cooldown of its own.
//
// A CircuitBreaker is safe for concurrent use. The closed-state path takes
// one short lock (the window) and allocates nothing.
type CircuitBreaker struct {
	name   string
	cfg    Config
	clock  gateway.Clock
	origin time.Time
	win    *window

	// word packs the state (low 2 bits) and a generation (the rest) that
	// changes at every transition, so a permit from an earlier state is
	// recognised and ignored.
	word      atomic.Uint64
	consec    atomic.Int64 // consecutive failures while closed
	coolUntil atomic.Int64 // clock offset from origin, in ns; 0 = none
	cooldowns atomic.Uint64

	mu       sync.Mutex // guards transitions and the fields below
	openedAt time.Time
	issued   int // probes handed out in this half-open state
	passed   int // probes that succeeded
}

// NewCircuitBreaker returns a closed breaker for the target called name, or
// an error for an invalid cfg (Validate).
func NewCircuitBreaker(name string, cfg Config) (*CircuitBreaker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newCircuitBreaker(name, cfg.withDefaults()), nil
}

// newCircuitBreaker returns a breaker for a valid cfg with its defaults
// applied.
func newCircuitBreaker(name string, cfg Config) *CircuitBreaker {
	win := newCountWindow(cfg.FailureThresholdWindow)
	if cfg.FailureThresholdPeriod > 0 {
		win = newTimeWindow(cfg.FailureThresholdPeriod)
	}
	clk := clock.Or(cfg.Clock)
	return &CircuitBreaker{name: name, cfg: cfg, clock: clk, origin: clk.Now(), win: win}
}

// Name returns the target's name given to NewCircuitBreaker.
func (cb *CircuitBreaker) Name() string { return cb.name }

const stateBits = 2

func pack(s State, gen uint64) uint64            { return gen<<stateBits | uint64(s) }
func unpack(w uint64) (State, uint64)            { return State(w & (1<<stateBits - 1)), w >> stateBits }
func (cb *CircuitBreaker) load() (State, uint64) { return unpack(cb.word.Load()) }

// State returns the breaker's state. An open breaker whose delay has passed
// turns half-open here, as it would for the next call.
func (cb *CircuitBreaker) State() State {
	s, _ := cb.load()
	if s == Open {
		cb.mu.Lock()
		changed := cb.halfOpenIfDueLocked()
		s, _ = cb.load()
		cb.mu.Unlock()
		if changed {
			cb.notify(Open, HalfOpen)
		}
	}
	return s
}

// Ready reports whether a call would be let through now, without taking a
// permit: no cooldown is running and the breaker is closed, open past its
// delay, or half-open with probes left. A router asks it of every target it
// considers; on a closed breaker with no cooldown it is two atomic loads and
// reads no clock.
func (cb *CircuitBreaker) Ready() bool {
	if cb.coolUntil.Load() != 0 && cb.coolingFor() > 0 {
		return false
	}
	if s, _ := cb.load(); s == Closed {
		return true
	}
	switch cb.State() {
	case Closed:
		return true
	case HalfOpen:
		cb.mu.Lock()
		defer cb.mu.Unlock()
		s, _ := cb.load()
		return s == Closed || (s == HalfOpen && cb.issued < cb.cfg.HalfOpenProbes)
	}
	return false
}

// offset returns the clock's time as an offset from the breaker's origin.
func (cb *CircuitBreaker) offset() time.Duration { return cb.clock.Now().Sub(cb.origin) }

// now is offset in nanoseconds.
func (cb *CircuitBreaker) now() int64 { return int64(cb.offset()) }

// CoolDown makes the breaker refuse every call with ErrCoolingDown for d
// (clamped to MaxRetryAfter), or until an earlier cooldown ends if that is
// later. The breaker's Middleware calls it when a 429 or 503 carries a
// Retry-After, and for Cooldown on a 429 without one, so no attempt reaches
// the target inside that window.
func (cb *CircuitBreaker) CoolDown(d time.Duration) {
	if d <= 0 {
		return
	}
	until := cb.now() + int64(min(d, cb.cfg.MaxRetryAfter))
	for {
		cur := cb.coolUntil.Load()
		if cur >= until {
			return
		}
		if cb.coolUntil.CompareAndSwap(cur, until) {
			cb.cooldowns.Add(1)
			return
		}
	}
}

// coolingFor returns how long the current cooldown has left, or 0.
func (cb *CircuitBreaker) coolingFor() time.Duration {
	until := cb.coolUntil.Load()
	if until == 0 {
		return 0
	}
	left := until - cb.now()
	if left <= 0 {
		cb.coolUntil.CompareAndSwap(until, 0)
		return 0
	}
	return time.Duration(left)
}

// Stats is what a CircuitBreaker says of itself at one moment.
type Stats struct {
	State      State
	CoolingFor time.Duration // left of the cooldown running now; 0 if none
	Cooldowns  uint64        // CoolDown calls that started or lengthened a cooldown, since NewCircuitBreaker
}

// Stats returns the breaker's state (as State does), its cooldown and its
// count of cooldowns. It is for a scrape: it may take the breaker's lock.
func (cb *CircuitBreaker) Stats() Stats {
	return Stats{State: cb.State(), CoolingFor: cb.coolingFor(), Cooldowns: cb.cooldowns.Load()}
}

// Permit is the right to make one call through a breaker. Exactly one call
// to Done must follow a successful Acquire. A Permit is a small value; it
// allocates nothing.
type Permit struct {
	cb    *CircuitBreaker
	gen   uint64
	probe bool
}

// Acquire asks to make one call. It returns a Permit, or an error deriving
// from ErrCoolingDown (a Retry-After window is running) or ErrOpen (with the
// time left before probes as its RetryAfter, when known).
func (cb *CircuitBreaker) Acquire() (Permit, error) {
	if left := cb.coolingFor(); left > 0 {
		return Permit{}, ErrCoolingDown.WithRetryAfter(left)
	}
	s, gen := cb.load()
	if s == Closed {
		return Permit{cb: cb, gen: gen}, nil
	}
	cb.mu.Lock()
	changed := cb.halfOpenIfDueLocked()
	s, gen = cb.load()
	var p Permit
	var err error
	switch {
	case s == Closed:
		p = Permit{cb: cb, gen: gen}
	case s == HalfOpen && cb.issued < cb.cfg.HalfOpenProbes:
		cb.issued++
		p = Permit{cb: cb, gen: gen, probe: true}
	case s == HalfOpen:
		err = ErrOpen.WithMessage("breaker: circuit half-open, probes in flight")
	default:
		err = ErrOpen.WithRetryAfter(cb.cfg.Delay - cb.clock.Now().Sub(cb.openedAt))
	}
	cb.mu.Unlock()
	if changed {
		cb.notify(Open, HalfOpen)
	}
	return p, err
}

// Done reports the outcome of the call its permit allowed: Class.Failure
// outcomes count as failures, Success and Fatal as successes, RateLimited
// and Canceled as neither (a probe's place is given back). A permit from a
// state the breaker has since left is ignored.
func (p Permit) Done(c Class) {
	cb := p.cb
	if cb == nil {
		return
	}
	if p.probe {
		cb.probeDone(p.gen, c)
		return
	}
	s, gen := cb.load()
	if s != Closed || gen != p.gen {
		return
	}
	switch {
	case c == Success || c == Fatal:
		if cb.consec.Load() != 0 {
			cb.consec.Store(0)
		}
		cb.record(false)
	case c.Failure():
		n := cb.consec.Add(1)
		calls, failures := cb.record(true)
		if n >= int64(cb.cfg.FailureThreshold) ||
			(calls >= cb.cfg.MinCalls && float64(failures) >= cb.cfg.FailureRateThreshold*float64(calls)) {
			cb.trip(p.gen)
		}
	}
}

// record adds a result to the window; only a time window reads the clock.
func (cb *CircuitBreaker) record(failed bool) (calls, failures int) {
	var now time.Duration
	if cb.win.slot != 0 {
		now = cb.offset()
	}
	return cb.win.record(failed, now)
}

// trip opens a breaker that is still closed in generation gen.
func (cb *CircuitBreaker) trip(gen uint64) {
	cb.mu.Lock()
	s, g := cb.load()
	if s != Closed || g != gen {
		cb.mu.Unlock()
		return
	}
	cb.openLocked(g)
	cb.mu.Unlock()
	cb.notify(Closed, Open)
}

func (cb *CircuitBreaker) openLocked(gen uint64) {
	cb.openedAt = cb.clock.Now()
	cb.word.Store(pack(Open, gen+1))
}

// halfOpenIfDueLocked turns an open breaker half-open once Delay has passed
// and reports whether it did.
func (cb *CircuitBreaker) halfOpenIfDueLocked() bool {
	s, gen := cb.load()
	if s != Open || cb.clock.Now().Sub(cb.openedAt) < cb.cfg.Delay {
		return false
	}
	cb.issued, cb.passed = 0, 0
	cb.word.Store(pack(HalfOpen, gen+1))
	return true
}

func (cb *CircuitBreaker) probeDone(gen uint64, c Class) {
	cb.mu.Lock()
	s, g := cb.load()
	if s != HalfOpen || g != gen {
		cb.mu.Unlock()
		return
	}
	var to State
	switch {
	case c == Success || c == Fatal:
		if cb.passed++; cb.passed < cb.cfg.SuccessThreshold {
			cb.mu.Unlock()
			return
		}
		to = Closed
		cb.consec.Store(0)
		cb.win.reset() // fresh statistics for the new closed state
		cb.word.Store(pack(Closed, g+1))
	case c.Failure():
		to = Open
		cb.openLocked(g)
	default:
		cb.issued--
		cb.mu.Unlock()
		return
	}
	cb.mu.Unlock()
	cb.notify(HalfOpen, to)
}

func (cb *CircuitBreaker) notify(from, to State) {
	if cb.cfg.OnStateChange != nil {
		cb.cfg.OnStateChange(from, to)
	}
}

// Middleware returns the breaker as a middleware over one target. Each call
// takes a permit (or is refused with ErrOpen or ErrCoolingDown, without
// reaching next), and its outcome is classified with Config.Classify and
// reported when next.RoundTrip returns. A 429 or 503 response with a
// Retry-After starts a cooldown of that length (CoolDown), and a 429 without
// one a cooldown of Config.Cooldown; so does a rate-limit refusal from
// inside (a limiter's error with a RetryAfter). If the classifier panics the
// permit is given back and the response body closed before the panic goes
// on.
func (cb *CircuitBreaker) Middleware() gateway.Middleware {
	return func(next http.RoundTripper) http.RoundTripper { return cb.Wrap(next) }
}

// Wrap returns next behind the breaker (see Middleware).
func (cb *CircuitBreaker) Wrap(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		panic("breaker: nil RoundTripper")
	}
	return &breakerTransport{cb: cb, next: next}
}

type breakerTransport struct {
	cb   *CircuitBreaker
	next http.RoundTripper
}

func (t *breakerTransport) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	cb := t.cb
	p, err := cb.Acquire()
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	settled := false
	defer func() {
		if !settled { // next or the classifier panicked
			p.Done(Canceled)
			if resp != nil && resp.Body != nil {
				resp.Body.Close()
			}
		}
	}()
	resp, err = t.next.RoundTrip(req)
	c := cb.cfg.Classify(req, resp, err)
	settled = true
	p.Done(c)
	if c == RateLimited || c == Overloaded {
		cb.coolDownAfter(c, resp, err)
	}
	return resp, err
}

// coolDownAfter starts the cooldown a rate-limited or overloaded outcome asks
// for: its Retry-After, or Cooldown for a 429 that gives none.
func (cb *CircuitBreaker) coolDownAfter(c Class, resp *http.Response, err error) {
	if resp != nil {
		if d, ok := RetryAfter(resp.Header, cb.clock.Now(), cb.cfg.MaxRetryAfter); ok {
			cb.CoolDown(d)
		} else if c == RateLimited {
			cb.CoolDown(cb.cfg.Cooldown)
		}
		return
	}
	// A refusal from inside (a limiter in front of the provider) that says
	// how long to wait; this breaker's own refusals never reach here.
	if ge := asGatewayError(err); ge != nil && ge.RetryAfter > 0 && c == RateLimited && !ge.Is(ErrCoolingDown) {
		cb.CoolDown(ge.RetryAfter)
	}
}
