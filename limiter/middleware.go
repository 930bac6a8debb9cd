package limiter

import (
	"net/http"
	"strconv"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/clock"
	"github.com/llmgate/gateway/internal/hooks"
)

// Middleware returns the Limiter as a middleware in front of callers (after
// authentication, which sets the Call's Caller): every rule not keyed on
// Target applies to each call, keyed by its caller's key id and tenant and
// the model asked. A refused call gets ErrRateLimited or ErrQuotaExceeded
// (429 with Retry-After) and reaches nothing below.
//
// Every answer, admitted or refused, carries OpenAI's rate-limit headers
// for the request and token buckets that applied (the one with the least
// left of each): x-ratelimit-limit-requests, x-ratelimit-remaining-requests,
// x-ratelimit-reset-requests (the time until the bucket is full again, as
// "1.5s") and the same for -tokens. A refusal tells every bucket that
// applies, those after the rule that refused too, as the refusal left them.
//
// What a call holds (a token reservation, a concurrency place, a quota's
// share) is released exactly once, when the call ends: its response body
// read to its end or closed, or its failure.
func (l *Limiter) Middleware() gateway.Middleware {
	return func(next http.RoundTripper) http.RoundTripper {
		if next == nil {
			panic("limiter: nil RoundTripper")
		}
		return &transport{l: l, next: next}
	}
}

// Target returns the Limiter as a middleware in front of the router target
// called target (router.Target.Middlewares, outermost, so that a hedge
// inside it counts as the one call it is), for a provider account's own
// limits: only the rules keyed on Target apply, the model being the one
// sent. A refusal makes the router pass over the target, as it does over
// one whose breaker refuses: no attempt is recorded and the breaker counts
// no failure (it cools the target down for the refusal's Retry-After). On a
// response the x-ratelimit-remaining-* headers say the least of what the
// upstream and the limit have left, which the router reads to steer the
// next calls elsewhere before the account is spent. A reservation is
// released when the attempt fails, else when the call ends.
func (l *Limiter) Target(target string) gateway.Middleware {
	return func(next http.RoundTripper) http.RoundTripper {
		if next == nil {
			panic("limiter: nil RoundTripper")
		}
		return &transport{l: l, next: next, target: target}
	}
}

type transport struct {
	l      *Limiter
	next   http.RoundTripper
	target string
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	call := gateway.CallFrom(req.Context())
	if call == nil {
		closeBody(req)
		return nil, errNoCall
	}
	l := t.l
	s := l.set.Load()
	rules := s.caller
	if t.target != "" {
		rules = s.target
	}
	if len(rules) == 0 {
		return t.next.RoundTrip(req)
	}
	in := input{ctx: req.Context(), group: call.Caller.Group(), limits: call.Caller.Limits}
	in.vals[KeyID], in.vals[Tenant], in.vals[Model], in.vals[Target] = call.Caller.KeyID, call.Caller.Tenant, call.Model, t.target
	if t.target != "" {
		in.vals[Model] = gateway.OutboundFrom(req.Context()).Model
	}
	in.est = l.estimate(call)
	if !anyApplies(rules, &in) {
		return t.next.RoundTrip(req) // no rule limits this call: nothing to hold, no header to set
	}
	h := &hold{l: l, call: call, target: t.target}
	var v views
	err := l.admit(rules, &in, h, &v, t.target == "")
	if t.target == "" {
		if err != nil {
			l.peek(rules, &in, &v) // every limit, as the refusal left it
		}
		t.headers(call, nil, &v) // the caller's limits, admitted or not
		if err != nil {
			closeBody(req)
			return nil, err
		}
		if h.settles() {
			hooks.OnEnd(call, h.end)
		}
		return t.next.RoundTrip(req)
	}
	// At a target the limits are the provider account's: the router reads
	// them from the response; the caller never sees them.
	if err != nil {
		closeBody(req)
		return nil, err
	}
	settled := false
	defer func() {
		if !settled { // next panicked
			h.finish(false, 0, true)
		}
	}()
	resp, err := t.next.RoundTrip(req)
	settled = true
	if err != nil || resp.StatusCode/100 != 2 {
		h.finish(false, 0, true) // nothing was consumed that the attempt's failure does not show
		return resp, err
	}
	t.headers(call, resp.Header, &v)
	if h.settles() {
		hooks.OnEnd(call, h.end)
	}
	return resp, nil
}

func anyApplies(rules []*compiled, in *input) bool {
	for _, c := range rules {
		if c.appliesTo(in) {
			return true
		}
	}
	return false
}

// estimate is what a call reserves of a token limit: its prompt estimate
// and the completion it may ask for (max_tokens, or Config.DefaultMaxTokens
// when it sets none); for an embedding, which has no completion, its prompt
// alone; for a call that spends no tokens (the model list, Anthropic's
// token count), nothing, and token rules pass over it.
func (l *Limiter) estimate(call *gateway.Call) int64 {
	switch call.Op {
	case gateway.OpModels, gateway.OpCountTokens:
		return 0
	case gateway.OpEmbedding:
		return max(int64(call.PromptTokens), 1)
	}
	est := int64(call.PromptTokens) + int64(call.MaxTokens)
	if call.MaxTokens == 0 {
		est += l.cfg.DefaultMaxTokens
	}
	return est
}

// admit decides, waiting for capacity when Config.MaxWait allows it and the
// caller may wait (mayWait): in Middleware, not at a target, whose refusal
// must reach the router at once so that it can pass over the target. A
// refusal is counted against the rule that made it (RuleStats).
func (l *Limiter) admit(rules []*compiled, in *input, h *hold, v *views, mayWait bool) error {
	err := l.admitOrWait(rules, in, h, v, mayWait)
	if err != nil && in.at != nil {
		in.at.refused.Add(1)
	}
	return err
}

func (l *Limiter) admitOrWait(rules []*compiled, in *input, h *hold, v *views, mayWait bool) error {
	for tries := 0; ; tries++ {
		*v = views{}
		err, wait := l.decide(rules, in, h, v)
		if err == nil {
			l.stats.admitted.Add(1)
			return nil
		}
		if !mayWait || wait <= 0 || l.cfg.MaxWait <= 0 || tries >= maxWaits ||
			hooks.Waited(h.call, 0)+wait > l.cfg.MaxWait {
			l.stats.refused.Add(1)
			return err
		}
		if dl, ok := in.ctx.Deadline(); ok && !l.clock.Now().Add(wait).Before(dl) {
			l.stats.refused.Add(1)
			return err
		}
		if tries == 0 {
			l.stats.waited.Add(1)
		}
		if err := clock.Sleep(in.ctx, l.clock, wait); err != nil {
			l.stats.refused.Add(1)
			return err
		}
		hooks.Waited(h.call, wait)
	}
}

// maxWaits bounds the waits of one call: another caller may take what the
// first wait was for.
const maxWaits = 4

// The rate-limit headers, by unit, as OpenAI names them.
var (
	requestHeaders = [3]string{"X-Ratelimit-Limit-Requests", "X-Ratelimit-Remaining-Requests", "X-Ratelimit-Reset-Requests"}
	tokenHeaders   = [3]string{"X-Ratelimit-Limit-Tokens", "X-Ratelimit-Remaining-Tokens", "X-Ratelimit-Reset-Tokens"}
)

// headers sets the x-ratelimit-* headers: for the caller (hooks.SetHeader)
// in Middleware, on the upstream's response in a Target middleware, where
// the lower of the upstream's remaining and the limit's wins.
func (t *transport) headers(call *gateway.Call, h http.Header, v *views) {
	setHeaders(call, h, &requestHeaders, &v.requests)
	setHeaders(call, h, &tokenHeaders, &v.tokens)
}

func setHeaders(call *gateway.Call, h http.Header, names *[3]string, r *rateView) {
	if !r.set {
		return
	}
	lim, rem, reset := strconv.FormatInt(r.limit, 10), strconv.FormatInt(r.remaining, 10), formatReset(r.reset)
	if h == nil {
		hooks.SetHeader(call, names[0], lim)
		hooks.SetHeader(call, names[1], rem)
		hooks.SetHeader(call, names[2], reset)
		return
	}
	if up, err := strconv.ParseInt(h.Get(names[1]), 10, 64); err == nil && up <= r.remaining {
		return // the upstream's own account has less left
	}
	h[names[0]], h[names[1]], h[names[2]] = []string{lim}, []string{rem}, []string{reset}
}

// formatReset writes a reset time as OpenAI does, a Go duration ("1s",
// "6m0s", "20ms"), rounded up to the millisecond.
func formatReset(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return (d + time.Millisecond - 1).Truncate(time.Millisecond).String()
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
