package breaker

import (
	"fmt"
	"net/http"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/clock"
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
	// the recently observed time to a usable response (headers and first
	// bytes, or a stream's first content), so only the slowest calls are
	// hedged; but never less than MinDelay.
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
	// guess. A cut whose timer fires a hedge delay or more late (the
	// process was stalled, so the attempts' answers may be waiting unread)
	// waits one more delay first. 0 means no cut.
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
	// Latency, when set, is where the RoundTrippers the middleware returns
	// learn their latency (Percentile), together: give one per target, and
	// the same one to the Hedge that replaces another over that target (a
	// reloaded configuration) to keep what it learned. Nil means each
	// RoundTripper learns its own from scratch.
	Latency *HedgeLatency
}

// HedgeLatency is what a Hedge learns of its target's latency: the most
// recent times to a usable response (HedgeConfig.Latency). Its zero value
// is ready to use; it is safe for concurrent use and bounded (a fixed ring
// of samples).
type HedgeLatency struct{ l latencies }

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
// response (headers and the first bytes, which the attempt boundary reads
// to check a model call's answer, or for a stream its first content, which
// it holds it for) after a delay, sends the same request again and
// keeps whichever answers first. The loser is cancelled at once, with
// ErrHedgeLost as its context's cause (so its attempt is recorded with that
// code); its response, if one still arrives, is closed. A failed attempt does
// not end the call while another is in flight: when a hedge fails
// (Retryable: not a 429 or 503, which ask for a wait) while the first
// attempt is still out, the next hedge goes out at once instead of after
// the delay, so a call whose first attempt hangs and whose hedge failed is
// not left waiting on the hung one. A 429, or a 503 with a Retry-After
// (the upstream asks for a wait), ends the call at once with that answer,
// the attempts still out given up. A call sends at most MaxHedges extra
// attempts, each within the Budget. When all have failed the last failure
// is returned, an upstream's answer (a 503 and its Retry-After) rather
// than a transport error that came after it (retrying it is Retry's job).
//
// The first attempt runs on the caller's goroutine, with a context of its
// own and a deadline among those of every call under the middleware, which
// share one timer: a call answered within the delay costs no goroutine and
// no timer of its own. Only when the delay passes does a goroutine take the
// call over, sending the hedges, each in a goroutine of its own, and
// setting the CutAfter timer. The first attempt's own answer
// is taken in when its RoundTrip returns, so a hedge that wins reaches the
// caller once the first attempt, cancelled, has returned: at once for a
// RoundTripper that honours its context, as the RoundTripper contract asks.
// The winner's context ends when its body is closed, and closing it waits
// for the other attempts' goroutines, so none outlives the call. Hedge only
// repeats the chain inside it; it records no attempt (the attempt boundary
// does). It returns an error for an invalid config (Validate) and panics on
// a nil next. The returned RoundTripper is safe for concurrent use.
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
	deadlines := clock.NewDeadlines(cfg.Clock) // one timer for every call under this middleware
	return func(next http.RoundTripper) http.RoundTripper {
		if next == nil {
			panic("breaker: nil RoundTripper")
		}
		lat := &latencies{}
		if cfg.Latency != nil {
			lat = &cfg.Latency.l
		}
		t := &hedgeTransport{cfg: cfg, next: next, lat: lat, deadlines: deadlines}
		t.timeouts, _ = next.(*timeoutTransport)
		return t
	}, nil
}

type hedgeTransport struct {
	cfg       HedgeConfig
	next      http.RoundTripper
	lat       *latencies // the config's Latency, or the transport's own
	deadlines *clock.Deadlines
	// timeouts is next when it is Timeouts (the main job's order): each
	// attempt's context, which Hedge makes, is then Timeouts' too.
	timeouts *timeoutTransport
}

func (t *hedgeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	call := gateway.CallFrom(req.Context())
	t.cfg.Budget.OnCall(call)
	req, err := replayable(req, t.cfg.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	h := &hedgeCall{t: t, req: req}
	h.cancels = h.cancelsArr[:0]
	h.delay, h.learned = t.delay()
	h.began = t.cfg.Clock.Now()
	actx, i, cancel := h.attempt()
	t.deadlines.Add(&h.due, h.began.Add(h.delay), h)
	r := h.run(req, actx, i, cancel)
	if t.deadlines.Remove(&h.due) {
		// Answered within the delay: the only attempt, taken in here.
		var none hedgeResult
		d, _ := h.take(r, &none)
		return d.resp, d.err
	}
	// The delay passed: takeOver runs the call now (or is about to); it
	// gets this answer like any other attempt's and says how the call ends.
	h.handOver()
	h.results <- r
	d := <-h.decided
	return d.resp, d.err
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
