package breaker

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/clock"
	"github.com/llmgate/gateway/internal/ctxbody"
)

// HedgeConfig configures Hedge. The zero value sends one hedge after 2 s. A
// field left zero takes its default; a negative or out-of-range one is an
// error (Validate).
type HedgeConfig struct {
	// Delay is how long the first attempt runs alone before a hedge is
	// sent (and between further hedges). With Percentile set, it is used
	// until enough latencies have been seen. Default 2 s.
	Delay time.Duration
	// Percentile, when set, in (0, 1), makes the delay that percentile of
	// the recently observed time to a usable response (headers, or a
	// stream's first content), so only the slowest calls are hedged; but
	// never less than MinDelay.
	Percentile float64
	// MinDelay is the floor of a delay from Percentile. Default 50 ms.
	MinDelay time.Duration
	// MaxHedges is how many extra attempts a call may send. Default 1.
	MaxHedges int
	// Budget bounds hedges: each must win Budget.TryRetry. Hedge credits
	// it through Budget.OnCall, so a Budget shared with the Retry outside
	// or a router inside is credited once per call. Nil means a budget of
	// Hedge's own.
	Budget *Budget
	// CutAfter, when set, gives the call up when no attempt has answered
	// CutAfter times the hedge delay after the first was sent (with
	// Percentile, that many times the learned percentile, never less than
	// MinDelay): every attempt still out is cancelled and RoundTrip returns
	// gateway.ErrUpstreamTimeout, which Retry and a router treat as a
	// failure of this target. It is the end for an attempt that hangs with
	// no headers when no hedge could go out (the Gate shut, the Budget
	// spent). With Percentile set, no call is cut until the percentile is
	// learned, so the first calls of a slow model are never cut by a
	// guess. 0 means no cut.
	CutAfter float64
	// Gate, when set, is asked before each hedge goes out: none is sent
	// while it reports false (it is asked again a delay later, as the
	// Budget is when it refuses). Give it the CircuitBreaker.Ready of the
	// target a Hedge inside a router target's chain hedges to, so that no
	// hedge goes out while the target cools down after a 429 (or is open):
	// the breaker outside sees only the hedged attempt as a whole.
	Gate func() bool
	// Classify decides which outcomes are final; nil means the package's
	// Classify.
	Classify Classifier
	// MaxBodyBytes bounds a request body Hedge must buffer to send twice
	// (one without GetBody; the gateway's entry points always set it).
	// Default 10 MiB.
	MaxBodyBytes int64
	// Clock is the source of time; nil means the system clock.
	Clock gateway.Clock
}

// Defaults of HedgeConfig.
const (
	DefaultHedgeDelay    = 2 * time.Second
	DefaultHedgeMinDelay = 50 * time.Millisecond
)

// Validate reports a negative value or a Percentile outside [0, 1).
func (c HedgeConfig) Validate() error {
	if c.Delay < 0 || c.MinDelay < 0 || c.MaxHedges < 0 || c.MaxBodyBytes < 0 || !(c.Percentile >= 0 && c.Percentile < 1) {
		return fmt.Errorf("breaker: invalid HedgeConfig: negative value, or Percentile %v not in [0, 1)", c.Percentile)
	}
	if !(c.CutAfter == 0 || c.CutAfter >= 1) {
		return fmt.Errorf("breaker: invalid HedgeConfig: CutAfter %v is neither 0 nor at least 1", c.CutAfter)
	}
	return nil
}

// Hedge returns a middleware that, when an attempt has not produced a usable
// response (headers, or for a stream its first content, which the attempt
// boundary holds it for) after a delay, sends the same request again and
// keeps whichever answers first. The loser is cancelled at once, with
// ErrHedgeLost as its context's cause (so its attempt is recorded with that
// code); its response, if one still arrives, is closed. A failed attempt does
// not end the call while another is in flight: when a hedge fails
// (Retryable: not a 429 or 503, which ask for a wait) while the first
// attempt is still out, the next hedge goes out at once instead of after
// the delay, so a call whose first attempt hangs and whose hedge failed is
// not left waiting on the hung one. A 429, or a 503 with a Retry-After
// (the upstream asks for a wait), ends the call at once with that answer,
// the attempts still out given up. A call sends at most MaxHedges extra attempts, each within the
// Budget. When all have failed the last
// failure is returned (retrying it is Retry's job).
//
// Each attempt runs in its own goroutine with its own context; the winner's
// context ends when its body is closed, and closing it waits for the other
// attempts' goroutines, so none outlives the call. Hedge only repeats the
// chain inside it; it records no attempt (the attempt boundary does). It
// returns an error for an invalid config (Validate) and panics on a nil next.
// The returned RoundTripper is safe for concurrent use.
func Hedge(cfg HedgeConfig) (gateway.Middleware, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Delay == 0 {
		cfg.Delay = DefaultHedgeDelay
	}
	if cfg.MaxHedges == 0 {
		cfg.MaxHedges = 1
	}
	if cfg.MinDelay == 0 {
		cfg.MinDelay = DefaultHedgeMinDelay
	}
	if cfg.Budget == nil {
		cfg.Budget = newBudget(BudgetConfig{Clock: cfg.Clock}.withDefaults())
	}
	if cfg.Classify == nil {
		cfg.Classify = Classify
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = defaultMaxBodyBytes
	}
	cfg.Clock = clock.Or(cfg.Clock)
	return func(next http.RoundTripper) http.RoundTripper {
		if next == nil {
			panic("breaker: nil RoundTripper")
		}
		return &hedgeTransport{cfg: cfg, next: next}
	}, nil
}

type hedgeTransport struct {
	cfg  HedgeConfig
	next http.RoundTripper
	lat  latencies
}

type hedgeResult struct {
	resp    *http.Response
	err     error
	i       int
	began   time.Time
	latency time.Duration
}

// hedgeCall is one call's attempts.
type hedgeCall struct {
	t       *hedgeTransport
	req     *http.Request
	results chan hedgeResult
	cancels []context.CancelCauseFunc
	pending int // attempts whose result has not been received
}

func (t *hedgeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	call := gateway.CallFrom(req.Context())
	t.cfg.Budget.OnCall(call)
	req, err := replayable(req, t.cfg.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	ctx := req.Context()
	h := &hedgeCall{t: t, req: req, results: make(chan hedgeResult, 1+t.cfg.MaxHedges)}
	if err := h.launch(); err != nil {
		return nil, err
	}
	delay, learned := t.delay()
	fire, stop := t.cfg.Clock.NewTimer(delay)
	defer func() { stop() }()
	var cut <-chan time.Time // nil: never
	if t.cfg.CutAfter > 0 && (learned || t.cfg.Percentile == 0) {
		var stopCut func() bool
		cut, stopCut = t.cfg.Clock.NewTimer(time.Duration(t.cfg.CutAfter * float64(delay)))
		defer stopCut()
	}
	var last hedgeResult
	for {
		select {
		case <-cut:
			why := gateway.ErrUpstreamTimeout.WithMessage("breaker: no answer within " +
				time.Duration(t.cfg.CutAfter*float64(delay)).Round(time.Millisecond).String() +
				", " + strconv.FormatFloat(t.cfg.CutAfter, 'g', -1, 64) + " times the hedge delay")
			h.drop(last)
			h.cut(why)
			return nil, why
		case r := <-h.results:
			h.pending--
			c := t.cfg.Classify(req, r.resp, r.err)
			if !c.Retryable() && c != Canceled {
				t.lat.add(r.latency)
				h.drop(last)
				return h.win(r)
			}
			h.drop(last)
			last = r
			if h.pending > 0 && asksToWait(c, r) {
				// The upstream asked for a wait: no more hedges, and the
				// slow attempts still out are given up, so that the
				// breaker and the router outside hear of it now, not when
				// a hung attempt ends.
				return h.win(r)
			}
			if r.i > 0 && h.pending > 0 && len(h.cancels) <= t.cfg.MaxHedges && c == Retryable && t.open() && t.cfg.Budget.TryRetry() {
				// A hedge failed while the first attempt, slow enough to
				// be hedged, is still out (it may hang): another hedge
				// goes out at once, not the hung attempt waited out. Not
				// after a 429 or 503, which ask for a wait.
				_ = h.launch()
			}
			if h.pending == 0 {
				return h.lose(last)
			}
		case <-fire:
			if len(h.cancels) > t.cfg.MaxHedges {
				break
			}
			if !t.open() || !t.cfg.Budget.TryRetry() {
				// The gate is shut or the budget spent: look again a
				// delay later rather than wait on a hung attempt forever.
				fire, stop = t.cfg.Clock.NewTimer(delay)
				break
			}
			if err := h.launch(); err == nil && len(h.cancels) <= t.cfg.MaxHedges {
				fire, stop = t.cfg.Clock.NewTimer(delay)
			}
		case <-ctx.Done():
			h.abandon(-1)
			h.drop(last)
			return nil, ctx.Err()
		}
	}
}

// open reports whether the Gate lets a hedge out now.
func (t *hedgeTransport) open() bool { return t.cfg.Gate == nil || t.cfg.Gate() }

// asksToWait reports whether an attempt's failure asks for a wait: a 429,
// or a 503 or 529 (or a refusal from inside) with a Retry-After.
func asksToWait(c Class, r hedgeResult) bool {
	switch c {
	case RateLimited:
		return true
	case Overloaded:
		if r.resp != nil {
			return r.resp.Header.Get("Retry-After") != "" || r.resp.Header.Get("Retry-After-Ms") != ""
		}
		ge := asGatewayError(r.err)
		return ge != nil && ge.RetryAfter > 0
	}
	return false
}

// launch starts one more attempt.
func (h *hedgeCall) launch() error {
	out, err := rewind(h.req)
	if len(h.cancels) == 0 {
		out, err = h.req, nil
	}
	if err != nil {
		return err
	}
	actx, cancel := context.WithCancelCause(h.req.Context())
	out = out.WithContext(actx)
	i := len(h.cancels)
	h.cancels = append(h.cancels, cancel)
	h.pending++
	t := h.t
	go func() {
		began := t.cfg.Clock.Now()
		resp, err := t.next.RoundTrip(out)
		if err != nil && resp != nil {
			resp.Body.Close()
			resp = nil
		}
		h.results <- hedgeResult{resp: resp, err: err, i: i, began: began, latency: t.cfg.Clock.Now().Sub(began)}
	}()
	return nil
}

// drop ends a held failure r that will not be returned: its attempt's
// context is cancelled and its body closed, without reading it (an upstream
// may stall it), so whatever it holds is released. A zero r is a no-op.
func (h *hedgeCall) drop(r hedgeResult) {
	if r.resp == nil {
		return
	}
	h.cancels[r.i](ErrHedgeLost)
	r.resp.Body.Close()
}

// lose returns the last failure when every attempt has failed: every
// attempt's context but r's is cancelled now, r's when its body is closed
// (at once when it has none), so none stays registered with the caller's.
func (h *hedgeCall) lose(r hedgeResult) (*http.Response, error) {
	for i, cancel := range h.cancels {
		if i != r.i || r.resp == nil {
			cancel(context.Canceled)
		}
	}
	if r.resp == nil {
		return nil, r.err
	}
	out := *r.resp
	out.Body = &ctxbody.CancelOnClose{ReadCloser: r.resp.Body, Cancel: h.cancels[r.i]}
	return &out, nil
}

// win returns r's response with the other attempts cancelled; its body's
// Close releases r's context and waits for the others.
func (h *hedgeCall) win(r hedgeResult) (*http.Response, error) {
	for i, cancel := range h.cancels {
		if i != r.i {
			cancel(ErrHedgeLost)
		}
	}
	if r.err != nil {
		h.abandon(r.i)
		return nil, r.err
	}
	out := *r.resp
	out.Body = &hedgeBody{ReadCloser: r.resp.Body, h: h, i: r.i}
	return &out, nil
}

// cut cancels every attempt with why as its cause (so each is recorded with
// its code) and waits for those still in flight, closing what they return.
func (h *hedgeCall) cut(why error) {
	for _, cancel := range h.cancels {
		cancel(why)
	}
	for ; h.pending > 0; h.pending-- {
		if r := <-h.results; r.resp != nil {
			r.resp.Body.Close()
		}
	}
}

// abandon cancels every attempt but keep (-1 for all) and waits for those
// still in flight, closing what they return.
func (h *hedgeCall) abandon(keep int) {
	for i, cancel := range h.cancels {
		if i != keep {
			cancel(ErrHedgeLost)
		}
	}
	for ; h.pending > 0; h.pending-- {
		r := <-h.results
		if r.resp != nil {
			r.resp.Body.Close()
		}
	}
	if keep >= 0 {
		h.cancels[keep](context.Canceled)
	}
}

// hedgeBody is the winner's body: closing it releases the winner's context
// and waits for the other attempts. Close may be called concurrently with
// Read, and more than once.
type hedgeBody struct {
	io.ReadCloser
	h    *hedgeCall
	i    int
	once sync.Once
}

func (b *hedgeBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() { b.h.abandon(b.i) })
	return err
}

// latencies keeps the most recent times to a usable response and a
// percentile of them, recomputed every few samples.
type latencies struct {
	mu      sync.Mutex
	ring    [latencySamples]time.Duration
	n       int // samples ever added
	at      int // n when cached was computed
	scratch []time.Duration
	cached  atomic.Int64 // the percentile, in ns; 0 until enough samples
}

const (
	latencySamples = 256
	latencyMin     = 32 // samples before the percentile is trusted
	latencyEvery   = 16 // recompute after this many new samples
)

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.ring[l.n%latencySamples] = d
	l.n++
	l.mu.Unlock()
}

// percentile returns the p-th percentile of the recent samples, or false
// when there are too few.
func (l *latencies) percentile(p float64) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n < latencyMin {
		return 0, false
	}
	if c := l.cached.Load(); c > 0 && l.n-l.at < latencyEvery {
		return time.Duration(c), true
	}
	l.at = l.n
	k := min(l.n, latencySamples)
	l.scratch = append(l.scratch[:0], l.ring[:k]...)
	slices.Sort(l.scratch)
	d := l.scratch[min(int(p*float64(k)), k-1)]
	l.cached.Store(max(int64(d), 1))
	return d, true
}

// delay returns how long to wait before the next hedge, and whether it is
// learned (the Percentile of enough latencies).
func (t *hedgeTransport) delay() (time.Duration, bool) {
	if t.cfg.Percentile > 0 {
		if d, ok := t.lat.percentile(t.cfg.Percentile); ok {
			return max(d, t.cfg.MinDelay), true
		}
	}
	return t.cfg.Delay, false
}
