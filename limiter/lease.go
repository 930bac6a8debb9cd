package limiter

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmgate/gateway"
)

// lease is the slice of one shared limit that this instance holds: units
// already taken from Redis, which decisions spend locally without asking
// Redis, until they run out.
//
// How big a lease is: at most MaxLeaseShare of the limit's capacity (its
// burst, or a quota's limit), at least what the call at hand needs. It
// starts at a quarter of that most and adapts to the instance's traffic at
// each refill: doubled when the last lease lasted less than LeaseFor,
// halved when it lasted over four times longer. A busy instance so asks
// Redis a few times a LeaseFor, an idle one rarely; near the limit the
// script grants what is left, so the last units are shared out, not
// stranded. Units not used within LeaseIdle go back to Redis (the Limiter's
// one goroutine returns them), and all of them at Close.
//
// Priority shares (Rule.Shares) are applied where a lease is granted: the
// script leaves the shares of the groups above the asking call's, so under
// saturation the lowest group's leases dry up first; a unit already leased
// may serve a call of any group of the instance.
//
// Because every unit is taken from Redis atomically before any instance
// spends it, the units admitted across the fleet never exceed what one
// bucket (or one quota) admits: there is no overshoot by construction, and
// the fleet's limit is the limit, not the limit times the replicas.
type lease struct {
	key   key
	local atomic.Int64 // units held here; negative is a debt (usage over a reservation)

	mu         sync.Mutex // refills and returns
	size       int64
	lastRefill int64 // local time base
	lastUse    atomic.Int64
	emptyUntil atomic.Int64 // Redis had nothing until then (local time base)
	remaining  atomic.Int64 // what Redis had left at the last refill
	reset      atomic.Int64 // ns until the bucket is full, at the last refill
	redisKey   string       // under mu: a quota's changes with its period
	periodEnd  atomic.Int64 // a quota's, local time base; written under mu
	lastLim    int64        // the limit of the last refill, for returns; under mu
}

func (s *shared) newLease(c *compiled, k key) *lease {
	return &lease{key: k, redisKey: s.redisKey(c, k)}
}

func (ls *lease) atRest() bool { return ls.local.Load() == 0 }

// adjust gives back (d < 0) or takes more (d > 0) units of the local lease.
func (ls *lease) adjust(d int64) { ls.local.Add(-d) }

// spend takes n units of the local lease, if it holds them.
func (ls *lease) spend(n int64) bool {
	for {
		cur := ls.local.Load()
		if cur < n {
			return false
		}
		if ls.local.CompareAndSwap(cur, cur-n) {
			return true
		}
	}
}

// decide takes n units of a shared limit: from the local lease when it holds
// them, else from a new lease. When Redis cannot be reached it applies the
// rule's policy (FailOpen) at once, counted; track is false when the
// decision took nothing to give back.
func (s *shared) decide(c *compiled, e *entry, in *input, n, lim int64, reserveShare float64, v *views) (ok bool, wait time.Duration, err *gateway.Error, track bool) {
	ls := e.ls
	now, _ := s.l.now()
	ls.lastUse.Store(now)
	capacity := c.capacity(lim)
	if (!c.quota || now < ls.periodEnd.Load()) && ls.spend(n) {
		s.l.stats.sharedLocal.Add(1)
		s.note(c, v, lim, ls)
		return true, 0, nil, true
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if c.quota && now >= ls.periodEnd.Load() {
		ls.local.Store(0) // a lease of the period past is worth nothing now
	}
	if (!c.quota || now < ls.periodEnd.Load()) && ls.spend(n) { // refilled while we waited
		s.l.stats.sharedLocal.Add(1)
		s.note(c, v, lim, ls)
		return true, 0, nil, true
	}
	if until := ls.emptyUntil.Load(); now < until {
		s.l.stats.sharedLocal.Add(1)
		s.note(c, v, lim, ls)
		return false, time.Duration(until - now), nil, false
	}
	if !s.up(now) {
		s.l.stats.sharedLocal.Add(1)
		return s.policy(c)
	}
	s.l.stats.sharedRedis.Add(1)
	g, rerr := s.refill(in.ctx, c, ls, n, lim, capacity, reserveShare, now)
	if rerr != nil {
		s.failed(now)
		return s.policy(c)
	}
	ls.remaining.Store(g.remaining)
	ls.reset.Store(int64(g.reset))
	if g.n == 0 {
		wait = g.wait
		if c.quota {
			wait = time.Duration(ls.periodEnd.Load() - now)
		}
		ls.emptyUntil.Store(now + int64(wait))
		s.note(c, v, lim, ls)
		return false, wait, nil, false
	}
	ls.local.Add(g.n)
	ok = ls.spend(n)
	s.note(c, v, lim, ls)
	return ok, 0, nil, ok
}

// capacity is what a rule's limit holds at once: a bucket's burst, a
// quota's limit.
func (c *compiled) capacity(lim int64) int64 {
	if c.quota {
		return lim
	}
	return c.paramsFor(lim, nil).burst
}

// clamp cuts a reservation to what the limit can hold at once, leaving the
// reserve: a call whose estimate is over it waits for a full bucket instead
// of never being admitted, and settles to its usage.
func (s *shared) clamp(c *compiled, n, lim int64, reserveShare float64) int64 {
	capacity := c.capacity(lim)
	return min(n, max(capacity-reserveUnits(reserveShare, capacity), 1))
}

// refill asks Redis for a new lease of the adapted size, at least what
// covers n (and any debt). Called with ls.mu held.
func (s *shared) refill(ctx context.Context, c *compiled, ls *lease, n, lim, capacity int64, reserveShare float64, now int64) (grant, error) {
	cfg := &s.l.cfg
	most := max(int64(float64(capacity)*cfg.MaxLeaseShare), 1)
	size := ls.size
	switch {
	case size == 0:
		size = max(most/4, 1)
	case now-ls.lastRefill < int64(cfg.LeaseFor):
		size *= 2
	case now-ls.lastRefill > 4*int64(cfg.LeaseFor):
		size /= 2
	}
	ls.size = min(max(size, 1), most)
	ls.lastRefill = now
	need := n - ls.local.Load()
	want := max(ls.size, need)
	reserve := reserveUnits(reserveShare, capacity)
	ls.lastLim = lim
	if !c.quota {
		p := c.paramsFor(lim, nil)
		return s.run(ctx, leaseBucket, ls.redisKey, c.per.Microseconds(), lim, p.burst, want, need, reserve)
	}
	rt, err := s.redisTime(ctx)
	if err != nil {
		return grant{}, err
	}
	end := periodEnd(rt, c.Per, s.l.cfg.Location)
	if now >= ls.periodEnd.Load() {
		ls.redisKey = s.redisKey(c, ls.key) + ":" + periodID(rt, c.Per, s.l.cfg.Location)
		ls.periodEnd.Store(now + int64(end.Sub(rt)))
		ls.emptyUntil.Store(0)
	}
	return s.run(ctx, leaseQuota, ls.redisKey, lim, want, need, reserve, end.Add(24*time.Hour).UnixMilli())
}

// policy is the decision when Redis cannot be reached: the rule's FailOpen,
// counted.
func (s *shared) policy(c *compiled) (bool, time.Duration, *gateway.Error, bool) {
	if c.FailOpen {
		s.l.stats.failOpen.Add(1)
		return true, 0, nil, false
	}
	s.l.stats.failClosed.Add(1)
	return false, 0, refusal(ErrRateLimited, c, "the shared limit cannot be reached; failing closed", time.Second), false
}

// note records the shared limit's state for the headers: what Redis had
// left at the last lease, plus what this instance holds.
func (s *shared) note(c *compiled, v *views, lim int64, ls *lease) {
	if c.quota {
		return
	}
	rem := ls.remaining.Load() + max(ls.local.Load(), 0)
	if c.Unit == Requests {
		v.requests.note(lim, rem, time.Duration(ls.reset.Load()))
	} else {
		v.tokens.note(lim, rem, time.Duration(ls.reset.Load()))
	}
}

// trim gives back to Redis at once what a settlement left in the lease
// beyond twice its size (a token reservation settled far below its
// estimate), so that other instances can use it now, not after LeaseIdle.
func (s *shared) trim(c *compiled, ls *lease) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	excess := ls.local.Load() - ls.size
	now, _ := s.l.now()
	if excess <= ls.size || ls.lastLim == 0 || !s.up(now) {
		return
	}
	ls.local.Add(-excess)
	if err := s.give(context.Background(), c, ls.redisKey, excess, ls.lastLim); err != nil {
		ls.local.Add(excess)
	}
}

// sweep returns idle leases every LeaseIdle/2 until Close.
func (l *Limiter) sweep() {
	defer close(l.done)
	for {
		fire, stop := l.clock.NewTimer(l.cfg.LeaseIdle / 2)
		select {
		case <-l.stop:
			stop()
			return
		case <-fire:
			l.shared.returnAll(false)
		}
	}
}

// returnAll gives back to Redis the leases unused for LeaseIdle, or every
// lease when all is set (Close), within RedisTimeout in all.
func (s *shared) returnAll(all bool) {
	now, _ := s.l.now()
	if !s.up(now) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.l.cfg.RedisTimeout)
	defer cancel()
	set := s.l.set.Load()
	for _, rules := range [][]*compiled{set.caller, set.target} {
		for _, c := range rules {
			if !c.Shared {
				continue
			}
			c.st.each(func(e *entry) {
				ls := e.ls
				if ls == nil || ctx.Err() != nil || !all && now-ls.lastUse.Load() < int64(s.l.cfg.LeaseIdle) {
					return
				}
				ls.mu.Lock()
				defer ls.mu.Unlock()
				n := ls.local.Swap(0)
				if n == 0 || ls.lastLim == 0 {
					ls.local.Add(n)
					return
				}
				if err := s.give(ctx, c, ls.redisKey, n, ls.lastLim); err != nil {
					ls.local.Add(n) // kept, for the next sweep
				}
			})
		}
	}
}
