package limiter

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/clock"
)

// Limiter admits calls under its rules: request, token and concurrency
// limits and quotas, local to the instance or shared by a fleet through
// Redis. Middleware puts it in front of callers, Target in front of one
// provider account.
//
// A Limiter is safe for concurrent use. With Redis it runs one goroutine,
// which returns idle leases; Close stops it and gives every lease back.
type Limiter struct {
	cfg    Config
	clock  gateway.Clock
	origin time.Time

	set atomic.Pointer[ruleSet]

	mu     sync.Mutex            // serialises Update
	states map[string]*ruleState // by rule name, kept across Update

	stats  counters
	shared *shared // nil without Redis

	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
}

// ruleSet is the rules in force, compiled. It is immutable: Update swaps it.
type ruleSet struct {
	caller []*compiled // applied by Middleware
	target []*compiled // keyed on Target: applied by Target middlewares
}

// compiled is one rule as a decision reads it.
type compiled struct {
	Rule
	st      *ruleState
	per     time.Duration // a bucket's period
	quota   bool          // Per is Day or Month
	params  *bucketParams // a bucket's, at the rule's own limit
	reserve [4]float64    // by priority group: the share it must leave
}

// New returns a Limiter for cfg, or an error for an invalid configuration
// (Config.Validate).
func New(cfg Config) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	clk := clock.Or(cfg.Clock)
	l := &Limiter{cfg: cfg, clock: clk, origin: clk.Now(), states: map[string]*ruleState{}}
	l.set.Store(l.compile(cfg.Rules))
	if cfg.Redis != nil {
		l.shared = newShared(l)
		l.stop, l.done = make(chan struct{}), make(chan struct{})
		go l.sweep()
	}
	return l, nil
}

// Update replaces the rules, atomically: a call is decided by the old rules
// or by the new, never by a mix. A rule keeps its counts when a rule of the
// same name is in the new set (a bucket keeps what is used of it at the new
// rate, a quota its period's use, a concurrency limit its calls in flight);
// calls in flight settle where they were admitted. The leases of a shared
// rule that the new set drops (or makes another kind) go back to Redis
// before Update returns (within RedisTimeout). It returns an error, and
// changes nothing, for rules that are not valid (Config.Validate).
func (l *Limiter) Update(rules []Rule) error {
	if err := validateRules(l.cfg, rules); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.set.Load()
	l.set.Store(l.compile(rules))
	if l.shared != nil {
		l.shared.retire(old, l.states)
	}
	return nil
}

// Rules returns a copy of the rules in force.
func (l *Limiter) Rules() []Rule {
	s := l.set.Load()
	out := make([]Rule, 0, len(s.caller)+len(s.target))
	for _, c := range s.caller {
		out = append(out, c.Rule.clone())
	}
	for _, c := range s.target {
		out = append(out, c.Rule.clone())
	}
	return out
}

// compile builds a rule set; a rule's state is the one its name had, so that
// counts survive. Called with l.mu held, or from New.
func (l *Limiter) compile(rules []Rule) *ruleSet {
	s := &ruleSet{}
	keep := make(map[string]*ruleState, len(rules))
	for _, r := range rules {
		r = r.clone()
		c := &compiled{Rule: r}
		for g := 1; g <= 3; g++ {
			c.reserve[g] = c.reserveFor(g)
		}
		c.quota = r.Per == Day || r.Per == Month
		c.per = r.Per.duration()
		if c.Burst == 0 {
			c.Burst = c.Limit
		}
		if c.per > 0 {
			c.params = newBucketParams(c.Limit, c.Burst, c.per)
		}
		st := l.states[r.Name]
		if st == nil || st.kind != kindOf(&r) {
			st = newRuleState(kindOf(&r), l.cfg.MaxKeys)
		}
		keep[r.Name] = st
		c.st = st
		if r.keyedOn(Target) {
			s.target = append(s.target, c)
		} else {
			s.caller = append(s.caller, c)
		}
	}
	l.states = keep
	return s
}

// kindOf says what state a rule keeps: its unit, bucket or quota (a
// bucket keeps its state whatever its period), local or shared. A rule
// updated to another kind starts afresh.
func kindOf(r *Rule) uint8 {
	k := uint8(r.Unit) << 4
	switch r.Per {
	case Day:
		k |= 1 << 2
	case Month:
		k |= 2 << 2
	}
	if r.Shared {
		k |= 1
	}
	return k
}

// now returns the time base (nanoseconds since the Limiter was made) and
// the wall time it stands for.
func (l *Limiter) now() (int64, time.Time) {
	t := l.clock.Now()
	return int64(t.Sub(l.origin)), t
}

// Close stops the lease goroutine and gives every lease back to Redis
// (within RedisTimeout). Calls decided afterwards still work, without
// leases: each shared decision asks Redis for what it needs, and gives back
// what it did not use when it settles. It returns nil; calling it again
// does nothing.
func (l *Limiter) Close() error {
	l.closeOnce.Do(func() {
		if l.stop != nil {
			close(l.stop)
			<-l.done
			l.shared.closed.Store(true)
			l.shared.returnAll(true)
		}
	})
	return nil
}

// Stats are a Limiter's counters since it was made.
type Stats struct {
	Admitted uint64 // calls admitted
	Refused  uint64 // calls refused (rate, quota, keys full, fail-closed)
	Waited   uint64 // calls that waited for capacity (MaxWait) before a decision

	SharedLocal uint64 // shared-rule decisions made without Redis: from a local lease, a known-empty limit, or the policy while Redis is down
	SharedRedis uint64 // shared-rule decisions that asked Redis
	RedisCalls  uint64 // Redis commands sent (leases, returns)
	RedisErrors uint64 // Redis commands that failed or timed out
	FailOpen    uint64 // shared decisions admitted because Redis could not be reached
	FailClosed  uint64 // shared decisions refused because Redis could not be reached
	KeysFull    uint64 // calls refused because a rule tracked MaxKeys keys, none at rest
}

type counters struct {
	admitted, refused, waited                         atomic.Uint64
	sharedLocal, sharedRedis, redisCalls, redisErrors atomic.Uint64
	failOpen, failClosed, keysFull                    atomic.Uint64
}

// Stats returns the Limiter's counters.
func (l *Limiter) Stats() Stats {
	c := &l.stats
	return Stats{
		Admitted: c.admitted.Load(), Refused: c.refused.Load(), Waited: c.waited.Load(),
		SharedLocal: c.sharedLocal.Load(), SharedRedis: c.sharedRedis.Load(),
		RedisCalls: c.redisCalls.Load(), RedisErrors: c.redisErrors.Load(),
		FailOpen: c.failOpen.Load(), FailClosed: c.failClosed.Load(), KeysFull: c.keysFull.Load(),
	}
}

// RuleStats counts one rule's decisions since a rule of its name was first
// in force (an Update that keeps its name and kind keeps the count, as it
// keeps the rule's state).
type RuleStats struct {
	Name string
	// Admitted counts the calls admitted that this rule applied to (its
	// model matched, and it counted the call): a call admitted under two
	// rules counts once in each, so the rules' sum is not the calls'
	// (Stats.Admitted). A call that waited is counted once, when admitted.
	Admitted uint64
	Refused  uint64 // calls this rule refused, after any wait
}

// RuleStats returns the counts of the rules in force, sorted by name. It
// allocates: it is for a scrape, not a hot path.
func (l *Limiter) RuleStats() []RuleStats {
	s := l.set.Load()
	out := make([]RuleStats, 0, len(s.caller)+len(s.target))
	for _, rs := range [2][]*compiled{s.caller, s.target} {
		for _, c := range rs {
			out = append(out, RuleStats{Name: c.Name, Admitted: c.st.admitted.Load(), Refused: c.st.refused.Load()})
		}
	}
	slices.SortFunc(out, func(a, b RuleStats) int { return strings.Compare(a.Name, b.Name) })
	return out
}
