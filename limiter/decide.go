package limiter

import (
	"context"
	"fmt"
	"time"

	"github.com/llmgate/gateway"
)

// input is what the rules read of one call.
type input struct {
	ctx    context.Context
	vals   [Target + 1]string // by Dimension
	group  int
	est    int64 // tokens reserved: prompt estimate + max_tokens (or the default)
	limits map[string]int64
	// at is the state of the rule decide came to last: when decide refuses,
	// the rule that refused (its RuleStats count).
	at *ruleState
}

func (c *compiled) keyOf(in *input) (k key) {
	for i, d := range c.Dimensions {
		k[i] = in.vals[d]
	}
	return k
}

// limitFor is the rule's limit for this call: the caller's override, if it
// has one (at most maxLimit, as a rule's own), else the rule's.
func (c *compiled) limitFor(in *input) int64 {
	if v, ok := in.limits[c.Name]; ok {
		return min(v, maxLimit)
	}
	return c.Limit
}

// paramsFor returns a bucket's parameters at limit lim: the rule's own, or
// an override's (its burst scaled alike), reusing cur when it already is.
func (c *compiled) paramsFor(lim int64, cur *bucketParams) *bucketParams {
	if lim == c.Limit {
		return c.params
	}
	// In floating point: Burst × lim may overflow int64. The ratio of burst
	// to limit is the rule's, which Validate keeps within the arithmetic.
	burst := min(max(int64(float64(c.Burst)*float64(lim)/float64(c.Limit)), 1), maxLimit)
	if cur != nil && cur.limit == lim && cur.burst == burst && cur.interval == max((int64(c.per)+lim-1)/lim, 1) {
		return cur
	}
	return newBucketParams(lim, burst, c.per)
}

// appliesTo reports whether the rule limits the call: its model matches,
// and a token rule limits only a call that can spend tokens.
func (c *compiled) appliesTo(in *input) bool {
	return (c.Unit != Tokens || in.est > 0) && (len(c.Models) == 0 || c.matches(in.vals[Model]))
}

// units is what a call takes of the rule.
func (c *compiled) units(in *input) int64 {
	if c.Unit == Tokens {
		return in.est
	}
	return 1
}

// rateView is what the x-ratelimit-* headers say of one unit: the limit
// with the least left among the buckets that applied.
type rateView struct {
	set              bool
	limit, remaining int64
	reset            time.Duration
}

func (v *rateView) note(limit, remaining int64, reset time.Duration) {
	if !v.set || remaining < v.remaining {
		*v = rateView{true, limit, max(remaining, 0), max(reset, 0)}
	}
}

// views is the headers' state for one decision.
type views struct{ requests, tokens rateView }

// decide applies rules to the call: it takes from every rule or from none.
// It returns nil and the holds taken, or the refusal and, when the refusal
// is a bucket's, how long until it could admit the call. An admission is
// counted on each rule that applied (RuleStats.Admitted), once all have
// admitted the call.
func (l *Limiter) decide(rules []*compiled, in *input, h *hold, v *views) (*gateway.Error, time.Duration) {
	now, nowT := l.now()
	var applied appliedSet
	for i, c := range rules {
		if !c.appliesTo(in) {
			continue
		}
		applied.add(i)
		in.at = c.st
		lim := c.limitFor(in)
		if lim <= 0 {
			h.giveBack()
			return refusal(ErrRateLimited, c, "the caller's limit is 0", time.Minute), 0
		}
		e := c.st.get(c.keyOf(in), len(c.Dimensions), now, func() *entry { return l.newEntry(c, in, lim) })
		if e == nil {
			h.giveBack()
			l.stats.keysFull.Add(1)
			return refusal(ErrRateLimited, c, "too many distinct keys are limited at once", time.Second), 0
		}
		n := c.units(in)
		reserve := c.reserve[in.group]
		var ok bool
		var wait time.Duration
		var err *gateway.Error
		switch {
		case e.ls != nil:
			var track bool
			n = l.shared.clamp(c, n, lim, reserve)
			ok, wait, err, track = l.shared.decide(c, e, in, n, lim, reserve, v)
			if ok && !track {
				continue // admitted by the fail-open policy: nothing taken
			}
		case e.b != nil:
			ok, wait, n = l.decideBucket(c, e, n, lim, reserve, now, v)
		case e.g != nil:
			ok = l.decideGauge(e, lim, reserve)
			wait = -1
		default:
			n = min(n, max(lim-reserveUnits(reserve, lim), 1))
			var end int64
			ok, end = l.decideQuota(c, e, n, lim, reserve, now, nowT)
			if !ok {
				h.giveBack()
				return refusal(ErrQuotaExceeded, c, fmt.Sprintf("%d %s a %s used", lim, c.Unit, c.Per),
					time.Duration(end-now)), 0
			}
			h.add(held{c: c, e: e, n: n, end: end})
			continue
		}
		if err != nil {
			h.giveBack()
			return err, 0
		}
		if !ok {
			h.giveBack()
			if c.quota {
				return refusal(ErrQuotaExceeded, c, fmt.Sprintf("%d %s a %s used", lim, c.Unit, c.Per), wait), 0
			}
			if wait < 0 {
				return refusal(ErrRateLimited, c, fmt.Sprintf("%d concurrent calls", lim), time.Second), 0
			}
			return refusal(ErrRateLimited, c, fmt.Sprintf("%d %s per %s", lim, c.Unit, c.Per), wait), wait
		}
		h.add(held{c: c, e: e, n: n})
	}
	applied.admitted(rules, in)
	return nil, 0
}

// appliedSet is the rules that applied to one decision, by index: the
// first 64 in a bit set (no allocation, no second match of a rule's
// models); any past them asked again.
type appliedSet struct{ bits uint64 }

func (a *appliedSet) add(i int) {
	if i < 64 {
		a.bits |= 1 << i
	}
}

// admitted counts the admission on every rule that applied: one atomic
// add on each one's own state.
func (a *appliedSet) admitted(rules []*compiled, in *input) {
	for i, c := range rules {
		if i < 64 && a.bits&(1<<i) != 0 || i >= 64 && c.appliesTo(in) {
			c.st.admitted.Add(1)
		}
	}
}

// peek records in v what every bucket of rules that applies to the call has
// left, taking nothing: for a refusal's headers, which then tell every limit
// (not only those decided before the one that refused) as the refusal left
// it (what earlier rules took given back). A key never seen has its whole
// burst left; a shared one is told only once this instance has asked Redis.
func (l *Limiter) peek(rules []*compiled, in *input, v *views) {
	*v = views{}
	now, _ := l.now()
	for _, c := range rules {
		if c.quota || c.Unit == Concurrent || !c.appliesTo(in) {
			continue
		}
		r := &v.requests
		if c.Unit == Tokens {
			r = &v.tokens
		}
		lim := c.limitFor(in)
		if lim <= 0 {
			r.note(0, 0, 0)
			continue
		}
		e := c.st.lookup(c.keyOf(in), len(c.Dimensions))
		switch {
		case e != nil && e.ls != nil:
			l.shared.note(c, v, lim, e.ls)
		case e != nil && e.b != nil:
			remaining, reset := e.b.peek(now)
			r.note(lim, remaining, time.Duration(reset))
		case c.Shared: // never asked here: what Redis holds is not known
		default:
			r.note(lim, c.paramsFor(lim, nil).burst, 0)
		}
	}
}

// decideBucket takes n units (a token reservation at most what the bucket
// can hold once the reserve is left) from a local bucket.
func (l *Limiter) decideBucket(c *compiled, e *entry, n, lim int64, reserveShare float64, now int64, v *views) (bool, time.Duration, int64) {
	p := e.b.p.Load()
	if want := c.paramsFor(lim, p); want != p {
		e.b.setParams(now, want)
		p = want
	}
	reserve := reserveUnits(reserveShare, p.burst)
	n = min(n, max(p.burst-reserve, 1))
	ok, wait, remaining, reset := e.b.take(now, n, reserve)
	if c.Unit == Requests {
		v.requests.note(lim, remaining, time.Duration(reset))
	} else {
		v.tokens.note(lim, remaining, time.Duration(reset))
	}
	if wait == never {
		wait = p.tolerance
	}
	return ok, time.Duration(wait), n
}

func (l *Limiter) decideGauge(e *entry, lim int64, reserveShare float64) bool {
	if e.g.limit.Load() != lim {
		e.g.limit.Store(lim)
	}
	ok, _ := e.g.take(reserveUnits(reserveShare, lim))
	return ok
}

// decideQuota takes n units of the current period; it returns the period's
// end (in the time base) either way.
func (l *Limiter) decideQuota(c *compiled, e *entry, n, lim int64, reserveShare float64, now int64, nowT time.Time) (bool, int64) {
	end := e.q.currentEnd(now)
	if end == 0 {
		end = int64(periodEnd(nowT, c.Per, l.cfg.Location).Sub(l.origin))
	}
	ok, _ := e.q.take(now, end, n, reserveUnits(reserveShare, lim), lim)
	return ok, end
}

// newEntry makes the state of a new key of rule c.
func (l *Limiter) newEntry(c *compiled, in *input, lim int64) *entry {
	e := &entry{}
	switch {
	case c.Shared:
		e.ls = l.shared.newLease(c, c.keyOf(in))
	case c.Unit == Concurrent:
		e.g = &gauge{}
		e.g.limit.Store(lim)
	case c.quota:
		e.q = &quota{}
	default:
		e.b = newBucket(c.paramsFor(lim, nil))
	}
	return e
}

// refusal is the error a rule refuses a call with.
func refusal(kind *gateway.Error, c *compiled, what string, retryAfter time.Duration) *gateway.Error {
	e := kind.WithMessage(fmt.Sprintf("%s: rule %q: %s", kind.Message, c.Name, what))
	if retryAfter > 0 {
		// Whole milliseconds, rounded up: never earlier than the limit allows.
		e = e.WithRetryAfter((retryAfter + time.Millisecond - 1).Truncate(time.Millisecond))
	}
	return e
}
