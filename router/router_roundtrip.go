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
)

// RoundTrip sends the call to a target, falling back to others as the
// Router's documentation describes. It never returns both a response and an
// error, always closes req.Body, and never modifies req.
func (r *Router) RoundTrip(req *http.Request) (*http.Response, error) {
	call := gateway.CallFrom(req.Context())
	if call == nil {
		var err error
		if req, call, err = bindCall(req); err != nil {
			return nil, err
		}
	} else if req.Body != nil {
		req.Body.Close() // each attempt sends its own copy of the Call's body
	}
	s := r.snap.Load()
	if call.Op == gateway.OpModels {
		return s.modelsResponse(req), nil
	}
	g := s.group(call.Model)
	if g == nil {
		return nil, gateway.ErrModelNotFound.WithMessage("provider: router " + r.name +
			": no target serves model " + quoteModel(call.Model))
	}

	ctx := req.Context()
	p := pickState{est: int64(call.PromptTokens) + int64(call.MaxTokens)}
	prior := call.Attempts()
	for _, a := range prior {
		i, ok := s.index[a.Target]
		switch {
		case !ok:
		case breaker.IsDeadKey(a.Status):
			p.hard.add(i)
		case a.Err != "" || a.Status/100 != 2:
			p.soft.add(i) // failed in an earlier run: avoided while others remain
		}
	}
	r.budget.OnCall(call) // once per call, however many layers share the budget

	var last lastFailure
	dispatched := 0
	for {
		if err := ctx.Err(); err != nil {
			last.drop()
			return nil, err
		}
		now := r.clock.Now()
		p.now = now.UnixNano()
		i := r.pick(g, &p)
		if i < 0 {
			break
		}
		m := &g.members[i]
		p.hard.add(m.idx)
		if refused := r.refusal(m, now); refused {
			continue // no attempt, no budget spent
		}
		if dispatched > 0 && !r.budget.TryRetry() {
			break
		}
		resp, class, err := r.dispatch(req, call, m, now)
		if class == refusedClass {
			continue
		}
		dispatched++
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
		case class == breaker.Fatal && !(resp != nil && breaker.IsDeadKey(resp.StatusCode)):
			last.drop()
			return resp, err // the request is wrong: no target will take it
		}
		last.set(resp, err)
	}
	if last.any() {
		return last.result()
	}
	return nil, r.noHealthy(g, &p, call.Model)
}

// refusedClass marks a dispatch the target's breaker refused before
// anything was sent.
const refusedClass breaker.Class = math.MaxUint8

// refusal asks m's breaker whether it would let a call through now, without
// keeping a permit. It asks the breaker of m's snapshot, the one dispatch
// goes through. When it would not, m is passed over for as long as the
// breaker says (or refusedRecheck) and refusal reports true.
func (r *Router) refusal(m *routeMember, now time.Time) bool {
	permit, err := m.t.cb.Acquire()
	if err == nil {
		permit.Done(breaker.Canceled) // gives a probe's place back; a no-op otherwise
		return false
	}
	r.passOver(m.st, err, now)
	return true
}

// passOver keeps st out of picks after its breaker refused with err.
func (r *Router) passOver(st *targetState, err error, now time.Time) {
	d := refusedRecheck
	var ge *gateway.Error
	if errors.As(err, &ge) && ge.RetryAfter > 0 {
		d = min(ge.RetryAfter, r.cfg.CooldownCeiling)
	}
	st.block(now.Add(d).UnixNano())
}

// attemptProbe is the context of one streaming attempt; it carries the time
// the response headers arrived out of the target's chain.
type attemptProbe struct {
	context.Context
	headers time.Time
}

type attemptProbeKey struct{}

func (p *attemptProbe) Value(key any) any {
	if key == (attemptProbeKey{}) {
		return p
	}
	return p.Context.Value(key)
}

// reparseLimits bound the parse of a renamed body: the entry point already
// enforced its own limits on the caller's body, so only nesting keeps a
// finite bound.
var routerReparseLimits = gateway.Limits{MaxDepth: 1024, MaxMessages: math.MaxInt32, MaxTokens: math.MaxInt32}

// dispatch sends the call to m and records the attempt. It returns the
// outcome's class; refusedClass when m's chain refused the call before
// sending anything (an open breaker, a cooldown, a full bulkhead), which is
// not an attempt and is not recorded.
// The response, when there is one, is the caller's to close.
func (r *Router) dispatch(req *http.Request, call *gateway.Call, m *routeMember, now time.Time) (*http.Response, breaker.Class, error) {
	st := m.st
	ctx := req.Context()
	actx := ctx
	body := call.Body
	var rn *renamed
	if m.upstream != call.Model || m.t.ownMws {
		// The target sees a Call for the model it is sent, so providers and
		// middlewares that read the model from the Call see the rename; and
		// a target with middlewares of its own gets a Call whose attempts are
		// its alone, so the router can tell whether they recorded any (a
		// Hedge over the router may run two dispatches on the caller's Call).
		body = call.BodyForModel(m.upstream)
		dc, err := gateway.ParseCall(call.Op, body, routerReparseLimits)
		if err != nil {
			return nil, breaker.Fatal, err
		}
		rn = newRenamed(call, dc, r.budget)
		actx = gateway.WithCall(ctx, dc)
	}
	var probe *attemptProbe
	if call.Stream {
		probe = &attemptProbe{Context: actx}
		actx = probe
	}
	out := req.WithContext(actx)
	gateway.SetBody(out, body)

	st.inflight.Add(1)
	resp, err := m.t.rt.RoundTrip(out)
	if err != nil && resp != nil { // a RoundTripper broke its contract; don't leak
		resp.Body.Close()
		resp = nil
	}
	if err == nil && resp.Body == nil {
		resp.Body = http.NoBody
	}
	inner := 0 // attempts the target's own middlewares recorded
	if rn != nil {
		inner = rn.sync()
		if resp != nil {
			resp.Body = &renamedBody{ReadCloser: resp.Body, rn: rn}
		}
	}
	end := r.clock.Now()
	if err != nil && ctx.Err() == nil {
		switch {
		case errors.Is(err, breaker.ErrOpen), errors.Is(err, breaker.ErrCoolingDown):
			st.inflight.Add(-1)
			r.passOver(st, err, end)
			return nil, refusedClass, nil
		case errors.Is(err, breaker.ErrBulkheadFull):
			st.inflight.Add(-1) // full for now: out for this call only
			return nil, refusedClass, nil
		}
	}
	class := breaker.Classify(req, resp, err)

	a := gateway.Attempt{Target: m.t.name, Model: m.upstream, Start: now, Latency: end.Sub(now)}
	if probe != nil && !probe.headers.IsZero() {
		a.Latency = probe.headers.Sub(now)
		if class == breaker.Success {
			a.TTFT = end.Sub(now)
		}
	}
	switch {
	case resp != nil:
		a.Status = resp.StatusCode
		if class != breaker.Success {
			a.Err = class.String()
		}
	case err != nil:
		a.Err = gateway.ErrorFor(err).Code
		if class == breaker.Canceled {
			a.Err = breaker.Canceled.String()
		}
	}
	if inner == 0 { // else they named each upstream try already
		call.RecordAttempt(a)
	}

	r.learn(st, resp, err, class, end, a)
	if class == breaker.Success {
		resp.Body = &inflightBody{ReadCloser: resp.Body, st: st}
	} else {
		st.inflight.Add(-1)
	}
	return resp, class, err
}

// learn updates a target's state from one attempt's outcome: latency and
// error averages, cooldowns and rate-limit hints.
func (r *Router) learn(st *targetState, resp *http.Response, err error, class breaker.Class, end time.Time, a gateway.Attempt) {
	switch {
	case class == breaker.Success:
		lat := a.Latency
		if a.TTFT > 0 {
			lat = a.TTFT
		}
		st.observe(lat, false)
	case class.Failure():
		st.observe(0, true)
	}
	var cool time.Duration
	if resp != nil {
		st.applyHints(parseRateHints(resp.Header, end), end.UnixNano(), r.hints)
		if class == breaker.RateLimited || class == breaker.Overloaded {
			if d, ok := breaker.RetryAfter(resp.Header, end, r.cfg.CooldownCeiling); ok {
				cool = d
			} else if class == breaker.RateLimited {
				cool = r.cfg.Cooldown
			}
		}
	} else if class == breaker.RateLimited {
		// A limiter inside the target's chain refused: wait what it says.
		cool = r.cfg.Cooldown
		var ge *gateway.Error
		if errors.As(err, &ge) && ge.RetryAfter > 0 {
			cool = min(ge.RetryAfter, r.cfg.CooldownCeiling)
		}
	}
	if cool > 0 {
		st.block(end.Add(cool).UnixNano())
	}
}

// noHealthy is the error for a call no target could be tried for: with a
// Retry-After when targets serving the model are cooling down.
func (r *Router) noHealthy(g *routeGroup, p *pickState, model string) error {
	var soonest int64 = math.MaxInt64
	for i := range g.members {
		if u := g.members[i].st.blockedUntil.Load(); u > p.now && u < soonest {
			soonest = u
		}
	}
	e := gateway.ErrNoHealthyProvider.WithMessage("provider: router " + r.name +
		": no healthy target for model " + quoteModel(model))
	if soonest != math.MaxInt64 {
		e = e.WithRetryAfter(time.Duration(soonest - p.now))
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

// bindCall parses the body of a request that reached the router without a
// Call (used without an entry point) and returns a copy carrying it.
func bindCall(req *http.Request) (*http.Request, *gateway.Call, error) {
	op := gateway.OpFromPath(req.URL.Path)
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := gateway.ReadBody(req.Body, req.ContentLength, gateway.DefaultMaxBodyBytes)
		req.Body.Close()
		if err != nil {
			return nil, nil, err
		}
		body = b
	} else if req.Body != nil {
		req.Body.Close()
	}
	c, err := gateway.ParseCall(op, body, gateway.Limits{})
	if err != nil {
		return nil, nil, err
	}
	return req.WithContext(gateway.WithCall(req.Context(), c)), c, nil
}

// quoteModel quotes a caller's model name for an error message, cut to a
// sane length.
func quoteModel(m string) string {
	if len(m) > 128 {
		m = m[:128] + "…"
	}
	return strconv.Quote(m)
}
