package limiter

import (
	"sync"
	"sync/atomic"
)

// key is the values of a rule's dimensions for one call, in the rule's
// order: calls with equal keys share a limit. Building one and looking it up
// allocates nothing.
type key [4]string

// entry is the state of one key of one rule: a bucket, a gauge or a quota,
// and, for a Shared rule, its lease.
type entry struct {
	b  *bucket
	g  *gauge
	q  *quota
	ls *lease // Shared rules
}

// ruleState holds a rule's entries, bounded to max keys. It survives Update
// for a rule of the same name and kind. A lookup reads a snapshot with no
// lock and no allocation (cowMap); a rule of one dimension is keyed by its
// one value, which hashes fastest, and a rule of none reads its one entry
// directly.
type ruleState struct {
	kind   uint8
	max    int
	one    cowMap[string, *entry] // rules of one dimension
	many   cowMap[key, *entry]    // rules of several
	global atomic.Pointer[entry]  // the rule of no dimension

	// retired: an Update dropped the rule (or made it another kind) and
	// gave its leases back; a call still deciding on it leases nothing more.
	retired atomic.Bool

	// admitted and refused are the rule's RuleStats, each on its own
	// state: a decision adds to the rules it applied, never to a line every
	// rule shares.
	admitted atomic.Uint64 // calls admitted that this rule applied to
	refused  atomic.Uint64 // calls this rule refused

	mu sync.Mutex // adds keys to one or many, bounded by max
}

func newRuleState(kind uint8, max int) *ruleState {
	return &ruleState{kind: kind, max: max}
}

// get returns k's entry, creating it with mk when there is none; nil when
// the rule tracks max keys and none of them is at rest.
func (s *ruleState) get(k key, dims int, now int64, mk func() *entry) *entry {
	switch dims {
	case 0:
		if e := s.global.Load(); e != nil {
			return e
		}
	case 1:
		if e, ok := s.one.load(k[0]); ok {
			return e
		}
	default:
		if e, ok := s.many.load(k); ok {
			return e
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if dims == 0 {
		if e := s.global.Load(); e == nil {
			s.global.Store(mk())
		}
		return s.global.Load()
	}
	if dims == 1 {
		return addKey(&s.one, k[0], s.max, now, mk)
	}
	return addKey(&s.many, k, s.max, now, mk)
}

// addKey adds k to m unless another goroutine did, forgetting keys at rest
// to stay within max. Called with the ruleState's mu held.
func addKey[K comparable](m *cowMap[K, *entry], k K, maxKeys int, now int64, mk func() *entry) *entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.loadLocked(k); ok {
		return e
	}
	if m.lenLocked() >= maxKeys {
		m.foldLocked(func(e *entry) bool { return e.atRest(now) })
		if m.lenLocked() >= maxKeys {
			return nil
		}
	}
	e := mk()
	m.storeLocked(k, e)
	return e
}

// lookup returns k's entry, or nil.
func (s *ruleState) lookup(k key, dims int) *entry {
	switch dims {
	case 0:
		return s.global.Load()
	case 1:
		e, _ := s.one.load(k[0])
		return e
	}
	e, _ := s.many.load(k)
	return e
}

// each calls fn for every entry, outside any lock.
func (s *ruleState) each(fn func(*entry)) {
	if e := s.global.Load(); e != nil {
		fn(e)
	}
	for _, e := range s.one.values() {
		fn(e)
	}
	for _, e := range s.many.values() {
		fn(e)
	}
}

// atRest reports whether forgetting the entry loses nothing: what it would
// start from afresh is what it holds.
func (e *entry) atRest(now int64) bool {
	if e.ls != nil && !e.ls.atRest() {
		return false
	}
	switch {
	case e.b != nil:
		return e.b.atRest(now)
	case e.g != nil:
		return e.g.atRest()
	case e.q != nil:
		return e.q.atRest(now)
	}
	return true
}
