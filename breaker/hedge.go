package breaker

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmgate/gateway"
)

// HedgeConfig configures Hedge. The zero value sends one hedge after 2 s.
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
	// Classify decides which outcomes are final; nil means the package's
	// Classify.
	Classify Classifier
	// MaxBodyBytes bounds a request body Hedge must buffer to send twice
	// (one without GetBody). Default gateway.DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Clock is the source of time; nil means the system clock.
	Clock gateway.Clock
}

// Defaults of HedgeConfig.
const (
	DefaultHedgeDelay    = 2 * time.Second
	DefaultHedgeMinDelay = 50 * time.Millisecond
)

// Hedge returns a middleware that, when an attempt has not produced a usable
// response (headers, or for a stream its first content) after a delay,
// sends the same request again and keeps whichever answers first. The loser
// is cancelled at once; its response, if one still arrives, is closed. A
// failed attempt does not end the call while another is in flight; when all
// have failed the last failure is returned (retrying it is Retry's job).
//
// Each attempt runs in its own goroutine with its own context; the winner's
// context ends when its body is closed, and closing it waits for the other
// attempts' goroutines, so none outlives the call. Hedge records attempts on
// the Call (a lost one with Err "hedge_lost") only when next is a
// gateway.Provider that records none itself, as Retry does: over a
// router.Router it records nothing. It panics on an invalid config. The
// returned RoundTripper is safe for concurrent use.
func Hedge(cfg HedgeConfig) gateway.Middleware {
	if cfg.Delay < 0 || cfg.MinDelay < 0 || cfg.MaxHedges < 0 || cfg.MaxBodyBytes < 0 || !(cfg.Percentile >= 0 && cfg.Percentile < 1) {
		panic(fmt.Sprintf("breaker: invalid HedgeConfig %+v", cfg))
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
		cfg.Budget = NewBudget(BudgetConfig{Clock: cfg.Clock})
	}
	if cfg.Classify == nil {
		cfg.Classify = Classify
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = gateway.DefaultMaxBodyBytes
	}
	cfg.Clock = gateway.ClockOrSystem(cfg.Clock)
	return func(next http.RoundTripper) http.RoundTripper {
		if next == nil {
			panic("breaker: nil RoundTripper")
		}
		t := &hedgeTransport{cfg: cfg, next: next}
		if p, ok := next.(gateway.Provider); ok {
			t.target = p.Name()
		}
		return t
	}
}

type hedgeTransport struct {
	cfg    HedgeConfig
	next   http.RoundTripper
	target string // next's name when it is a Provider
	lat    latencies
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
	cancels []context.CancelFunc
	pending int // attempts whose result has not been received

	// base is the Call's attempt count when the call reached Hedge, own how
	// many Hedge has recorded since, and inner whether anything inside
	// recorded one (next is a router): then Hedge records none.
	base, own int
	inner     bool
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
	if call != nil && t.target != "" {
		h.base = call.AttemptCount()
	}
	if err := h.launch(); err != nil {
		return nil, err
	}
	delay := t.delay()
	timer := t.cfg.Clock.NewTimer(delay)
	defer func() { timer.Stop() }()
	var last hedgeResult
	for {
		select {
		case r := <-h.results:
			h.pending--
			c := t.cfg.Classify(req, r.resp, r.err)
			if !c.Retryable() && c != Canceled {
				t.lat.add(r.latency)
				h.drop(last)
				return h.win(r)
			}
			h.record(r, "")
			h.drop(last)
			last = r
			if h.pending == 0 {
				return last.resp, last.err
			}
		case <-timer.C():
			if len(h.cancels) <= t.cfg.MaxHedges && t.cfg.Budget.TryRetry() {
				if err := h.launch(); err == nil && len(h.cancels) <= t.cfg.MaxHedges {
					timer = t.cfg.Clock.NewTimer(delay)
				}
			}
		case <-ctx.Done():
			h.abandon(-1)
			h.drop(last)
			return nil, ctx.Err()
		}
	}
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
	actx, cancel := context.WithCancel(h.req.Context())
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
		if err == nil && resp.StatusCode/100 == 2 {
			resp, err = AwaitFirstContent(actx, resp, t.cfg.Clock, 0)
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
	h.cancels[r.i]()
	r.resp.Body.Close()
}

// win returns r's response with the other attempts cancelled; its body's
// Close releases r's context and waits for the others.
func (h *hedgeCall) win(r hedgeResult) (*http.Response, error) {
	h.record(r, "")
	for i, cancel := range h.cancels {
		if i != r.i {
			cancel()
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

// abandon cancels every attempt but keep (-1 for all) and waits for those
// still in flight, closing what they return.
func (h *hedgeCall) abandon(keep int) {
	for i, cancel := range h.cancels {
		if i != keep {
			cancel()
		}
	}
	for ; h.pending > 0; h.pending-- {
		r := <-h.results
		if r.resp != nil {
			r.resp.Body.Close()
		}
		h.record(r, "hedge_lost")
	}
	if keep >= 0 {
		h.cancels[keep]()
	}
}

// record records r on the Call when next is a Provider that records
// nothing itself (the Call's attempts grew only by Hedge's own), unless r
// was refused before anything was sent. Its calls are never concurrent.
func (h *hedgeCall) record(r hedgeResult, why string) {
	call := gateway.CallFrom(h.req.Context())
	if h.t.target == "" || call == nil || call.Op == gateway.OpModels || h.inner || refused(r.err) {
		return
	}
	if call.AttemptCount() != h.base+h.own {
		h.inner = true
		return
	}
	h.own++
	a := gateway.Attempt{Target: h.t.target, Model: call.Model, Start: r.began, Latency: r.latency, Err: why}
	if r.resp != nil {
		a.Status = r.resp.StatusCode
	}
	if r.err != nil && why == "" {
		a.Err = gateway.ErrorFor(r.err).Code
	}
	call.RecordAttempt(a)
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

// delay returns how long to wait before the next hedge.
func (t *hedgeTransport) delay() time.Duration {
	if t.cfg.Percentile > 0 {
		if d, ok := t.lat.percentile(t.cfg.Percentile); ok {
			return max(d, t.cfg.MinDelay)
		}
	}
	return t.cfg.Delay
}
