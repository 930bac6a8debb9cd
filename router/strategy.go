package router

import (
	"fmt"
	"math/rand/v2"
)

// Strategy is how a Router spreads calls over the eligible targets of a
// tier. Whatever the strategy, only targets that serve the call's model, are
// not open-circuited, not cooling down and not already failed for the call
// are eligible, and a tier is used only when no lower tier has one.
//
// A Strategy marshals to and from its name ("weighted_round_robin",
// "weighted_random", "least_in_flight", "latency_aware"), so it can be read
// from a configuration file.
type Strategy uint8

const (
	// WeightedRoundRobin is nginx's smooth weighted round-robin: a fixed,
	// interleaved sequence in which every target gets its exact share of
	// every period of picks, with no bursts (weights 5:1:1 give
	// a a b a c a a, not a a a a a b c). The default.
	//
	// The sequence is computed when the targets are set and replayed with
	// an atomic cursor, so picks take no lock. A pick whose turn falls on a
	// target that cannot serve it draws among the eligible ones by weight.
	WeightedRoundRobin Strategy = iota
	// WeightedRandom draws each call's target at random in proportion to
	// the weights.
	WeightedRandom
	// LeastInFlight draws two targets by weight and sends the call to the
	// one with fewer calls in flight (the power of two choices): shares
	// follow the weights while the load is even, and a slow or stuck target
	// gets less of it, without a herd on the fastest.
	LeastInFlight
	// LatencyAware is LeastInFlight whose measure also weighs an
	// exponentially weighted moving average of each target's time to first
	// token (to headers for calls that do not stream) and of its error
	// rate: the two choices go to the one expected to answer sooner.
	LatencyAware
)

var strategyNames = [...]string{"weighted_round_robin", "weighted_random", "least_in_flight", "latency_aware"}

func (s Strategy) String() string {
	if int(s) < len(strategyNames) {
		return strategyNames[s]
	}
	return fmt.Sprintf("Strategy(%d)", uint8(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s Strategy) MarshalText() ([]byte, error) {
	if int(s) >= len(strategyNames) {
		return nil, fmt.Errorf("router: unknown strategy %d", uint8(s))
	}
	return []byte(strategyNames[s]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler. The empty string is the
// default, WeightedRoundRobin.
func (s *Strategy) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*s = WeightedRoundRobin
		return nil
	}
	for i, n := range strategyNames {
		if string(b) == n {
			*s = Strategy(i)
			return nil
		}
	}
	return fmt.Errorf("router: unknown strategy %q (want one of %v)", b, strategyNames)
}

// pickState is one call's view for picks: the time, its size and the
// targets it must or should avoid.
type pickState struct {
	now  int64 // unix ns
	est  int64 // tokens the call may use, for token hints
	hard targetSet
	soft targetSet
	// fallback is set once the call has been dispatched in this run: its
	// next pick must not take a turn of the round-robin, or a target that
	// fails every call would push every other call's first pick onto it.
	fallback bool
	// sawSaturated is set when a scan met a saturated target, so a second
	// pass that admits them is worth running.
	sawSaturated bool
	// sawUnhealthy is set when a scan met a target failing its health
	// check, so a third pass (when none of the model's targets passes one)
	// is worth considering.
	sawUnhealthy bool
}

// status is a member's eligibility for this pick.
func (p *pickState) status(m *routeMember) uint8 {
	if p.hard.has(m.idx) || !m.t.cb.Ready() {
		return ineligible
	}
	if !m.t.passes() {
		p.sawUnhealthy = true
		return unhealthy
	}
	st := m.st.status(p.now, p.est)
	if st == eligible && p.soft.has(m.idx) {
		return saturated
	}
	return st
}

// targetSet is a set of target indices: a bitmap in a word for the first 64
// targets, spilling to a slice beyond.
type targetSet struct {
	lo uint64
	hi []uint64
}

func (s *targetSet) add(i int) {
	if i < 64 {
		s.lo |= 1 << uint(i)
		return
	}
	w := i/64 - 1
	for len(s.hi) <= w {
		s.hi = append(s.hi, 0)
	}
	s.hi[w] |= 1 << uint(i%64)
}

func (s *targetSet) has(i int) bool {
	if i < 64 {
		return s.lo&(1<<uint(i)) != 0
	}
	w := i/64 - 1
	return w < len(s.hi) && s.hi[w]&(1<<uint(i%64)) != 0
}

// pick returns the index in g.members of the target for the next attempt,
// or -1 when none may take it. Tiers are tried in order, first admitting
// only eligible targets, then, if some were only saturated, those too,
// then, if some failed their health check and no member of the group
// passes one, those too (the checks are ignored when they condemn every
// target: Router's documentation says why). It allocates nothing.
func (r *Router) pick(g *routeGroup, p *pickState) int {
	p.sawSaturated, p.sawUnhealthy = false, false
	if m := r.pickTiers(g, p, eligible); m >= 0 {
		return m
	}
	if p.sawSaturated {
		if m := r.pickTiers(g, p, saturated); m >= 0 {
			return m
		}
	}
	if p.sawUnhealthy && !g.anyPasses() {
		return r.pickTiers(g, p, unhealthy)
	}
	return -1
}

// pickTiers tries the tiers in order, admitting members whose status is at
// most limit.
func (r *Router) pickTiers(g *routeGroup, p *pickState, limit uint8) int {
	for i := range g.tiers {
		if m := r.pickTier(g, &g.tiers[i], p, limit); m >= 0 {
			return m
		}
	}
	return -1
}

// pickTier applies the strategy to one tier, admitting members whose status
// is at most limit. The fast path looks at the one or two members the
// strategy draws; only when one of them may not serve does it scan the tier.
func (r *Router) pickTier(g *routeGroup, t *routeTier, p *pickState, limit uint8) int {
	ms := g.members[t.lo:t.hi]
	var a, b int
	switch r.strategy {
	case WeightedRoundRobin:
		if p.fallback || limit > eligible {
			// A fallback takes no turn: the turns are the first picks'.
			// Nor does a later pass of one pick (saturated or unhealthy
			// targets admitted): its first pass took the pick's turn, and
			// a second would give an even period only every other one.
			return lo(t, weightedScan(ms, p, limit, r.rand64()))
		}
		a = t.wrr.next()
	case WeightedRandom:
		a = t.draw(uint32(r.rand64()))
	default: // LeastInFlight, LatencyAware: the power of two choices
		rnd := r.rand64()
		a, b = t.draw(uint32(rnd)), t.draw(uint32(rnd>>32))
		if p.status(&ms[b]) > limit {
			b = -1
		}
	}
	if p.status(&ms[a]) > limit {
		if a = weightedScan(ms, p, limit, r.rand64()); a < 0 {
			return -1
		}
	}
	if r.strategy < LeastInFlight {
		return t.lo + a
	}
	if b < 0 {
		if b = weightedScan(ms, p, limit, r.rand64()); b < 0 {
			return t.lo + a
		}
	}
	// The draws are already in proportion to the weights, so comparing raw
	// load keeps each target's share at its weight while the load is even
	// (a tie keeps the first draw) and moves calls off a busy or slow one.
	if r.strategy == LatencyAware {
		if ms[b].st.cost() < ms[a].st.cost() {
			a = b
		}
	} else if ms[b].st.inflight.Load() < ms[a].st.inflight.Load() {
		a = b
	}
	return t.lo + a
}

// lo maps a member index within tier t to the group's, keeping -1.
func lo(t *routeTier, i int) int {
	if i < 0 {
		return -1
	}
	return t.lo + i
}

// weightedScan draws among the members whose status is at most limit, in
// proportion to their weights, using the random number rnd. It returns -1
// when none qualifies.
func weightedScan(ms []routeMember, p *pickState, limit uint8, rnd uint64) int {
	var total uint64
	for i := range ms {
		switch s := p.status(&ms[i]); {
		case s <= limit:
			total += ms[i].weight
		case s == saturated:
			p.sawSaturated = true
		}
	}
	if total == 0 {
		return -1
	}
	x := rnd % total
	for i := range ms {
		if p.status(&ms[i]) > limit {
			continue
		}
		if x < ms[i].weight {
			return i
		}
		x -= ms[i].weight
	}
	// The members changed status between the scans; take the last that
	// qualifies.
	for i := len(ms) - 1; i >= 0; i-- {
		if p.status(&ms[i]) <= limit {
			return i
		}
	}
	return -1
}

// draw returns the offset in the tier of the member a weighted draw with
// the 32 random bits rnd lands on, ignoring eligibility. It is Walker's
// alias method: the high half of rnd×n picks a column, the low half decides
// between the column's member and its alias, so a draw costs one multiply
// and two loads whatever the number of members.
func (t *routeTier) draw(rnd uint32) int {
	if len(t.alias) == 1 {
		return 0
	}
	x := uint64(rnd) * uint64(len(t.alias))
	col := &t.alias[x>>32]
	if uint64(uint32(x)) < col.keep {
		return int(col.self)
	}
	return int(col.other)
}

// rand64 returns a random number: from the runtime's generator, or, with a
// Config.Seed, from a seeded splitmix64 sequence that is reproducible
// when picks are made one at a time.
func (r *Router) rand64() uint64 {
	if r.seed == 0 {
		return rand.Uint64()
	}
	z := r.seed + r.rngSeq.Add(1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
