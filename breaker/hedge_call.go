package breaker

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/clock"
	"github.com/llmgate/gateway/internal/ctxbody"
)

// hedgeCall is one call's attempts. Until its delay passes only the
// caller's goroutine uses it; once the delay has passed, takeOver's
// goroutine does, until it has sent its decision; the winner's Close comes
// after that.
type hedgeCall struct {
	t       *hedgeTransport
	req     *http.Request // replayable
	delay   time.Duration
	learned bool      // delay is the learned percentile
	began   time.Time // when the first attempt was sent
	cancels []context.CancelCauseFunc
	pending int // attempts whose result has not been received
	// cancelsArr holds the cancels of the usual call (the first attempt
	// and up to two hedges) without an allocation of their own.
	cancelsArr [3]context.CancelCauseFunc

	due clock.Deadline // the delay's, among the middleware's deadlines

	body hedgeBody // the winner's body, in the call's allocation

	// The channels exist only once the delay has passed (handOver).
	once    sync.Once
	results chan hedgeResult
	decided chan hedgeDecision
}

type hedgeResult struct {
	resp    *http.Response
	err     error
	i       int
	began   time.Time
	latency time.Duration
}

// hedgeDecision is how a call ends: a response or an error.
type hedgeDecision struct {
	resp *http.Response
	err  error
}

// handOver makes the channels takeOver and the caller's goroutine share
// once the delay has passed. Either may be first.
func (h *hedgeCall) handOver() {
	h.once.Do(func() {
		h.results = make(chan hedgeResult, 1+h.t.cfg.MaxHedges)
		h.decided = make(chan hedgeDecision, 1)
	})
}

// Expire implements clock.Expirer: the middleware's deadlines, which must
// not be held up, call it when the delay passes before the first attempt
// answered.
func (h *hedgeCall) Expire() { go h.takeOver() }

// takeOver runs the call from the moment its delay passes and sends its
// decision to the caller's goroutine, which is still in the first
// attempt's RoundTrip or about to hand its result over.
func (h *hedgeCall) takeOver() {
	h.handOver()
	h.decided <- h.coordinate()
}

// coordinate sends hedges, takes in every attempt's result and decides how
// the call ends, as Hedge's documentation says.
func (h *hedgeCall) coordinate() hedgeDecision {
	t := h.t
	var last hedgeResult // the failure held, if any
	select {
	case r := <-h.results: // the first attempt answered as its delay passed
		d, _ := h.take(r, &last) // the only attempt: the call ends
		return d
	default:
	}
	fire, stop := h.hedge()
	defer func() { stop() }()
	var cut <-chan time.Time // nil: never
	stopCut, graced := noTimer, false
	defer func() { stopCut() }()
	cutAt := time.Duration(t.cfg.CutAfter * float64(h.delay))
	if t.cfg.CutAfter > 0 && (h.learned || t.cfg.Percentile == 0) {
		cut, stopCut = t.cfg.Clock.NewTimer(cutAt - t.cfg.Clock.Now().Sub(h.began))
	}
	ctx := h.req.Context()
	for {
		select {
		case <-cut:
			if late := t.cfg.Clock.Now().Sub(h.began.Add(cutAt)); !graced && late >= h.delay {
				// The timer fired a delay or more after its time: this
				// process was stalled, and the answers the stall held up
				// may be waiting unread. Look once more, a delay later,
				// rather than cut them and count each against its target.
				graced = true
				cut, stopCut = t.cfg.Clock.NewTimer(h.delay)
				continue
			}
			why := cutError(cutAt, t.cfg.CutAfter)
			h.drop(last)
			h.cut(why)
			return hedgeDecision{err: why}
		case r := <-h.results:
			if d, done := h.take(r, &last); done {
				return d
			}
		case <-fire:
			fire, stop = h.hedge()
		case <-ctx.Done():
			h.abandon(-1)
			h.drop(last)
			return hedgeDecision{err: ctx.Err()}
		}
	}
}

// hedge is a delay passing: one more hedge goes out, if MaxHedges, the Gate
// and the Budget let it. It returns the timer of the next look (nil: none),
// a delay later: when this one went out and more are allowed, or when the
// Gate or the Budget refused (rather than wait on a hung attempt forever).
func (h *hedgeCall) hedge() (<-chan time.Time, func() bool) {
	t := h.t
	switch {
	case len(h.cancels) > t.cfg.MaxHedges:
		return nil, noTimer
	case !t.open() || !t.cfg.Budget.TryRetry():
		return t.cfg.Clock.NewTimer(h.delay)
	case h.launch() == nil && len(h.cancels) <= t.cfg.MaxHedges:
		return t.cfg.Clock.NewTimer(h.delay)
	}
	return nil, noTimer
}

func noTimer() bool { return false }

// take receives attempt r's result; last is the failure held (zero: none).
// It reports whether the call ends, and how.
func (h *hedgeCall) take(r hedgeResult, last *hedgeResult) (hedgeDecision, bool) {
	t := h.t
	h.pending--
	c := t.cfg.Classify(h.req, r.resp, r.err)
	if !c.Retryable() && c != Canceled {
		t.lat.add(r.latency)
		h.drop(*last)
		return h.win(r), true
	}
	if h.pending > 0 && asksToWait(c, r) {
		// The upstream asked for a wait: no more hedges, and the slow
		// attempts still out are given up, so that the breaker and the
		// router outside hear of it now, not when a hung attempt ends.
		h.drop(*last)
		return h.win(r), true
	}
	if last.resp == nil || r.resp != nil {
		// The failure held is the latest, but an upstream's answer is
		// kept over a transport error that came after it: its status and
		// Retry-After tell Retry and the router more, and which one
		// arrives last is only goroutine timing. A dropped error holds
		// nothing; lose cancels its context with the rest.
		h.drop(*last)
		*last = r
	}
	if r.i > 0 && h.pending > 0 && len(h.cancels) <= t.cfg.MaxHedges && c == Retryable && t.open() && t.cfg.Budget.TryRetry() {
		// A hedge failed while the first attempt, slow enough to be
		// hedged, is still out (it may hang): another hedge goes out at
		// once, not the hung attempt waited out. Not after a 429 or 503,
		// which ask for a wait.
		_ = h.launch()
	}
	if h.pending == 0 {
		return h.lose(*last), true
	}
	return hedgeDecision{}, false
}

// attempt gives the next attempt a context of its own, a child of the
// call's, and returns it with the attempt's index and the context's cancel.
func (h *hedgeCall) attempt() (context.Context, int, context.CancelCauseFunc) {
	actx, cancel := context.WithCancelCause(h.req.Context())
	i := len(h.cancels)
	h.cancels = append(h.cancels, cancel)
	h.pending++
	return actx, i, cancel
}

// run sends attempt i, out under actx, whose context cancel cancels, and
// returns its result, never a response and an error both. out is copied
// under actx only if it is not already. When
// Timeouts is next, the attempt's context is its too
// (timeoutTransport.roundTrip): Timeouts cancels it when the attempt ends
// or a limit passes, which is when Hedge has no more use for it either.
func (h *hedgeCall) run(out *http.Request, actx context.Context, i int, cancel context.CancelCauseFunc) hedgeResult {
	clk := h.t.cfg.Clock
	began := clk.Now()
	var resp *http.Response
	var err error
	if tt := h.t.timeouts; tt != nil {
		resp, err = tt.roundTrip(out, actx, cancel)
	} else {
		if out.Context() != actx {
			out = out.WithContext(actx)
		}
		resp, err = h.t.next.RoundTrip(out)
	}
	if err != nil && resp != nil {
		resp.Body.Close()
		resp = nil
	}
	return hedgeResult{resp: resp, err: err, i: i, began: began, latency: clk.Now().Sub(began)}
}

// launch sends one more hedge, in a goroutine of its own.
func (h *hedgeCall) launch() error {
	var body io.ReadCloser
	if h.req.GetBody != nil { // replayable: always, but for a bodiless request
		var err error
		if body, err = h.req.GetBody(); err != nil {
			return err
		}
	}
	actx, i, cancel := h.attempt()
	out := h.req.WithContext(actx) // rewind's copy, under the attempt's context
	if body != nil {
		out.Body = body
	}
	go func() { h.results <- h.run(out, actx, i, cancel) }()
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
func (h *hedgeCall) lose(r hedgeResult) hedgeDecision {
	for i, cancel := range h.cancels {
		if i != r.i || r.resp == nil {
			cancel(context.Canceled)
		}
	}
	if r.resp == nil {
		return hedgeDecision{err: r.err}
	}
	r.resp.Body = &ctxbody.CancelOnClose{ReadCloser: r.resp.Body, Cancel: h.cancels[r.i]}
	return hedgeDecision{resp: r.resp}
}

// win returns r's response with the other attempts cancelled; its body's
// Close releases r's context and waits for the others.
func (h *hedgeCall) win(r hedgeResult) hedgeDecision {
	for i, cancel := range h.cancels {
		if i != r.i {
			cancel(ErrHedgeLost)
		}
	}
	if r.err != nil {
		h.abandon(r.i)
		return hedgeDecision{err: r.err}
	}
	h.body.ReadCloser, h.body.h, h.body.i = r.resp.Body, h, r.i
	r.resp.Body = &h.body
	return hedgeDecision{resp: r.resp}
}

// cut cancels every attempt with why as its cause (so each is recorded with
// its code) and waits for those still in flight, closing what they return.
func (h *hedgeCall) cut(why error) {
	for _, cancel := range h.cancels {
		cancel(why)
	}
	h.await()
}

// abandon cancels every attempt but keep (-1 for all) and waits for those
// still in flight, closing what they return.
func (h *hedgeCall) abandon(keep int) {
	for i, cancel := range h.cancels {
		if i != keep {
			cancel(ErrHedgeLost)
		}
	}
	h.await()
	if keep >= 0 {
		h.cancels[keep](context.Canceled)
	}
}

// await waits for the attempts still in flight, closing what they return.
func (h *hedgeCall) await() {
	for ; h.pending > 0; h.pending-- {
		if r := <-h.results; r.resp != nil {
			r.resp.Body.Close()
		}
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

// cutError is the error of a call cut at CutAfter (times) its hedge delay.
func cutError(after time.Duration, times float64) error {
	return gateway.ErrUpstreamTimeout.WithMessage("breaker: no answer within " + after.Round(time.Millisecond).String() +
		", " + strconv.FormatFloat(times, 'g', -1, 64) + " times the hedge delay")
}
