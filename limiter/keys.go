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
// for a rule of the same name and kind. Lookups read a sync.Map (no lock,
// no allocation); new keys are added under mu, which also bounds them.
type ruleState struct {
	kind uint8
	max  int
	m    sync.Map // key or string (one dimension) -> *entry
	mu   sync.Mutex
	n    int // entries in m; under mu
	// global is the one entry of a rule with no dimension, read without
	// the map.
	global atomic.Pointer[entry]
}

func newRuleState(kind uint8, max int) *ruleState {
	return &ruleState{kind: kind, max: max}
}

// lookupKey is what m is keyed by: the one value of a rule of one
// dimension (hashed as a string, the fast way), else the whole key.
func lookupKey(k key, dims int) any {
	if dims <= 1 {
		return k[0]
	}
	return k
}

// get returns k's entry, creating it with mk when there is none; nil when
// the rule tracks max keys and none of them is at rest.
func (s *ruleState) get(k key, dims int, now int64, mk func() *entry) *entry {
	if dims == 0 {
		if e := s.global.Load(); e != nil {
			return e
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if e := s.global.Load(); e != nil {
			return e
		}
		e := mk()
		s.global.Store(e)
		s.m.Store("", e) // for each and lookup
		s.n++
		return e
	}
	var v any
	if dims <= 1 {
		v, _ = s.m.Load(k[0])
	} else {
		v, _ = s.m.Load(k)
	}
	if v != nil {
		return v.(*entry)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lk := lookupKey(k, dims)
	if v, ok := s.m.Load(lk); ok {
		return v.(*entry)
	}
	if s.n >= s.max {
		s.m.Range(func(k2, v2 any) bool {
			if v2.(*entry).atRest(now) {
				s.m.Delete(k2)
				s.n--
			}
			return true
		})
		if s.n >= s.max {
			return nil
		}
	}
	e := mk()
	s.m.Store(lk, e)
	s.n++
	return e
}

// lookup returns k's entry, or nil.
func (s *ruleState) lookup(k key, dims int) *entry {
	v, _ := s.m.Load(lookupKey(k, dims))
	e, _ := v.(*entry)
	return e
}

// each calls fn for every entry.
func (s *ruleState) each(fn func(*entry)) {
	s.m.Range(func(_, v any) bool {
		fn(v.(*entry))
		return true
	})
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
