package router

import (
	"cmp"
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/internal/clock"
	"github.com/llmgate/gateway/internal/ctxbody"
	"github.com/llmgate/gateway/internal/hooks"
)

// RoundTrip sends the call to a target, falling back to others as the
// Router's documentation describes. It never returns both a response and an
// error, always closes req.Body, and never modifies req.
func (r *Router) RoundTrip(req *http.Request) (*http.Response, error) {
	call := gateway.CallFrom(req.Context())
	if req.Body != nil {
		req.Body.Close() // each attempt sends its own copy of the Outbound body
	}
	if call == nil {
		return nil, errNoCall
	}
	s := r.snap.Load()
	if call.Op == gateway.OpModels {
		return s.modelsResponse(req), nil
	}
	// The model this attempt sends, after every rename on the way (a router
	// in front of this one may have renamed it for this router, its
	// target), is the one to route: for a router that is no other's target
	// it is the model asked.
	model := gateway.OutboundFrom(req.Context()).Model
	g := s.group(model)
	if g == nil {
		return nil, gateway.ErrModelNotFound.WithMessage("router: " + r.name +
			": no target serves model " + quoteModel(model))
	}

	ctx := req.Context()
	p := pickState{est: int64(call.PromptTokens) + int64(call.MaxTokens)}
	prior := call.Attempts()
	for _, a := range prior {
		i, ok := s.index[a.Target]
		switch {
		case !ok:
		case breaker.IsDeadKey(a.Status) || a.Status/100 == 3 || a.Err == breaker.ErrRedirect.Code:
			p.hard.add(i) // the target cannot serve this call
		case a.Err != "" || a.Status/100 != 2:
			p.soft.add(i) // failed in an earlier run: avoided while others remain
		}
	}
	r.budget.OnCall(call) // once per call, however many layers share the budget

	var last lastFailure
	var denied error // the latest gateway.ErrModelNotAllowed or ErrNotFound: the answer if no target took the call
	dispatched := 0
	budgetSpent := false // the budget refused a fallback in this run
	for {
		if err := ctx.Err(); err != nil {
			last.drop()
			return nil, err
		}
		now := r.clock.Now()
		p.now = now.UnixNano()
		i := r.pick(g, &p)
		if i < 0 {
			// The call's waits for capacity, Retry's included, stay
			// within one MaxWait.
			if d, ok := r.readyWithin(ctx, g, &p, now, r.cfg.MaxWait-hooks.Waited(call, 0)); ok {
				if err := clock.Sleep(ctx, r.clock, d); err != nil {
					last.drop()
					return nil, err
				}
				hooks.Waited(call, d)
				continue
			}
			break
		}
		m := &g.members[i]
		p.hard.add(m.idx)
		// A fallback to a healthy target (it just served and fails rarely)
		// is no storm: sent at once, charged only if it fails. Any other
		// needs the budget; once the budget refuses, only healthy targets
		// are left to try.
		fallback := dispatched > 0
		onCredit := fallback && m.st.creditworthy()
		if fallback && !onCredit && (budgetSpent || !r.budget.TryRetry()) {
			budgetSpent = true
			continue
		}
		resp, class, err := r.dispatch(req, call, m, now)
		if class == refusedClass {
			if fallback && !onCredit {
				r.budget.Refund() // nothing was sent: no budget spent
			}
			if err != nil {
				denied = err // the caller's key may not use this target's model
			}
			continue
		}
		dispatched++
		p.fallback = true
		if onCredit && class != breaker.Success && class != breaker.Canceled {
			r.budget.Spend()
		}
		switch {
		case class == breaker.Success:
			last.drop()
			return resp, nil
		case class == breaker.Canceled:
			if resp != nil {
				resp.Body.Close()
			}
			last.drop()
			if ctx.Err() != nil || err == nil {
				err = cmp.Or(ctx.Err(), context.Canceled)
			}
			return nil, err
		case class == breaker.Fatal && !breaker.IsTargetFault(resp, err):
			last.drop()
			return resp, err // the request is wrong: no target will take it
		case breaker.Ambiguous(resp, err) && !r.cfg.Idempotent(req):
			last.drop()
			return nil, err // it may have been acted on: not sent again
		}
		last.set(resp, err)
	}
	if last.any() {
		return last.result()
	}
	if denied != nil {
		return nil, denied
	}
	return nil, r.noHealthy(g, model)
}

// refusedClass marks a dispatch the target's chain refused before anything
// was sent.
const refusedClass breaker.Class = math.MaxUint8

// errNoCall is the router's answer to a request that did not come through an
// entry point.
var errNoCall = gateway.ErrInternal.WithMessage("router: no Call in the request context: " +
	"send requests through gateway.NewClient or gateway.NewHandler")

// dispatch sends the call to m, with the model renamed for it. It returns
// the outcome's class; refusedClass when m's chain refused the call before
// sending anything (its breaker opened or started a cooldown since the pick,
// a bulkhead is full, the account's own limit is spent, or the caller's
// key may not use the model m is sent, whose error it returns), which is no
// attempt. The response, when there is one, is the caller's to close.
func (r *Router) dispatch(req *http.Request, call *gateway.Call, m *routeMember, now time.Time) (*http.Response, breaker.Class, error) {
	st := m.st
	ctx := req.Context()
	var body *inflightBody                    // the answer's in-flight release
	out := gateway.WithModel(req, m.upstream) // a copy with a body of its own when renamed
	if out == req {
		// Each dispatch gets a body of its own: the target's chain may
		// read it. Its request copy and the in-flight release come in one
		// allocation; a renamed dispatch has its copy already.
		d := new(struct {
			req  http.Request
			body inflightBody
		})
		d.req = *req
		out, body = &d.req, &d.body
		out.Body = http.NoBody
		if req.GetBody != nil {
			out.Body, _ = req.GetBody()
		}
	}

	st.inflight.Add(1)
	resp, err := m.t.rt.RoundTrip(out)
	if err != nil && resp != nil { // a RoundTripper broke its contract; don't leak
		resp.Body.Close()
		resp = nil
	}
	if err == nil && resp.Body == nil {
		resp.Body = http.NoBody
	}
	end := r.clock.Now()
	if err != nil && ctx.Err() == nil &&
		(errors.Is(err, breaker.ErrOpen) || errors.Is(err, breaker.ErrCoolingDown) || errors.Is(err, breaker.ErrBulkheadFull) ||
			hooks.IsNotSent(err)) { // a target's own limit (limiter.Target) refused it
		st.inflight.Add(-1)
		return nil, refusedClass, nil
	}
	if err != nil && ctx.Err() == nil && (errors.Is(err, gateway.ErrModelNotAllowed) || errors.Is(err, gateway.ErrNotFound)) {
		// The attempt boundary refused the model this target is sent
		// (Caller.Allows), or the Provider does not serve the operation
		// (an Anthropic target and a Responses call): nothing was sent,
		// the target learned nothing.
		st.inflight.Add(-1)
		return nil, refusedClass, err
	}
	class := breaker.Classify(req, resp, err)
	r.learn(st, resp, err, class, end, end.Sub(now))
	if class == breaker.Success {
		if body == nil {
			body = new(inflightBody)
		}
		body.ReadCloser, body.st = resp.Body, st
		resp.Body = body
	} else {
		st.inflight.Add(-1)
	}
	return resp, class, err
}

// firstTokenTimeout bounds, for a stream, the time from the start of an
// attempt to its first content event (which the attempt boundary below holds
// it for): when FirstTokenTimeout passes first, the attempt's context is
// cancelled with gateway.ErrUpstreamTimeout as its cause, and that error is
// returned. Each streaming attempt sets one deadline among its target's
// (clock.Deadlines: one timer for all of them, no goroutine), removed when
// RoundTrip returns; nothing of it outlives the attempt but the context,
// which is released when the body is closed.
func (r *Router) firstTokenTimeout(next http.RoundTripper) http.RoundTripper {
	deadlines := clock.NewDeadlines(r.clock)
	why := gateway.ErrUpstreamTimeout.WithMessage("router: no stream content within " + r.cfg.FirstTokenTimeout.String())
	return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		if c := gateway.CallFrom(req.Context()); c == nil || !c.Stream {
			return next.RoundTrip(req)
		}
		ctx, cancel := context.WithCancelCause(req.Context())
		var d clock.Deadline
		deadlines.Add(&d, r.clock.Now().Add(r.cfg.FirstTokenTimeout), clock.Func(func() { cancel(why) }))
		resp, err := next.RoundTrip(req.WithContext(ctx))
		if !deadlines.Remove(&d) {
			cancel(why) // it passed: the cause is why, whether or not its call has run yet
		}
		if err != nil {
			if resp != nil {
				resp.Body.Close()
			}
			cause := context.Cause(ctx)
			cancel(context.Canceled)
			if cause == why {
				return nil, why
			}
			return nil, err
		}
		if resp.Body == nil {
			resp.Body = http.NoBody
		}
		resp.Body = &ctxbody.CancelOnClose{ReadCloser: resp.Body, Cancel: cancel}
		return resp, nil
	})
}

// learn updates a target's state from one dispatch's outcome: latency (to
// the headers, or for a stream to its first content, where the attempt
// boundary releases it) and error averages, and rate-limit hints. Cooldowns
// are the target's breaker's.
func (r *Router) learn(st *targetState, resp *http.Response, err error, class breaker.Class, end time.Time, lat time.Duration) {
	switch {
	case class == breaker.Success:
		st.observe(lat, false)
	case class.Failure() || breaker.IsTargetFault(resp, err):
		st.observe(0, true)
	}
	if resp != nil {
		st.applyHints(parseRateHints(resp.Header, end), end.UnixNano(), r.hints)
	}
}

// readyWithin reports whether a target the call may still use, none of
// which can take it now, will be ready within limit and before ctx's
// deadline, and how long until the earliest is: the Retry-After its
// breaker refuses with (a cooldown, an open circuit's delay).
func (r *Router) readyWithin(ctx context.Context, g *routeGroup, p *pickState, now time.Time, limit time.Duration) (time.Duration, bool) {
	if limit <= 0 {
		return 0, false
	}
	soonest, ok := r.soonest(g, p)
	if !ok || soonest > limit {
		return 0, false
	}
	if dl, has := ctx.Deadline(); has && !now.Add(soonest).Before(dl) {
		return 0, false
	}
	return soonest, true
}

// soonest returns how long until the earliest of the targets not out for
// this call (p.hard) takes calls again, by the Retry-After of its breaker's
// refusal; false when none refuses with one. A target failing its health
// check is not waited for while another of the group passes one: a pick
// would pass it over.
func (r *Router) soonest(g *routeGroup, p *pickState) (time.Duration, bool) {
	var soonest time.Duration = math.MaxInt64
	checked := g.anyPasses()
	for i := range g.members {
		m := &g.members[i]
		if (p != nil && p.hard.has(m.idx)) || (checked && !m.t.passes()) {
			continue
		}
		permit, err := m.t.cb.Acquire()
		if err == nil {
			permit.Done(breaker.Canceled) // gives a probe's place back
			continue
		}
		var ge *gateway.Error
		if errors.As(err, &ge) && ge.RetryAfter > 0 && ge.RetryAfter < soonest {
			soonest = ge.RetryAfter
		}
	}
	return soonest, soonest != math.MaxInt64
}

// noHealthy is the error for a call no target could be tried for: with a
// Retry-After when the breakers of the targets serving the model say when
// the soonest of them will take calls again.
func (r *Router) noHealthy(g *routeGroup, model string) error {
	e := gateway.ErrNoHealthyProvider.WithMessage("router: " + r.name +
		": no healthy target for model " + quoteModel(model))
	if soonest, ok := r.soonest(g, nil); ok {
		e = e.WithRetryAfter(soonest)
	}
	return e
}

// lastFailure holds the latest failed attempt's outcome while the router
// tries other targets. A response is kept as it came, its body unread: an
// upstream may send error headers and then stall the body, and waiting on it
// would hold the fallback. It is returned as the call's result when no later
// attempt supersedes it, and closed as soon as one does.
type lastFailure struct {
	resp *http.Response
	err  error
}

func (l *lastFailure) set(resp *http.Response, err error) {
	l.drop()
	l.resp, l.err = resp, err // dispatch never returns both
}

// drop closes a held response, which will not be returned.
func (l *lastFailure) drop() {
	if l.resp != nil {
		l.resp.Body.Close()
	}
	l.resp, l.err = nil, nil
}

func (l *lastFailure) any() bool { return l.resp != nil || l.err != nil }

func (l *lastFailure) result() (*http.Response, error) {
	if l.resp != nil {
		return l.resp, nil
	}
	return nil, l.err
}

// quoteModel quotes a caller's model name for an error message, cut to a
// sane length.
func quoteModel(m string) string {
	if len(m) > 128 {
		m = m[:128] + "…"
	}
	return strconv.Quote(m)
}
