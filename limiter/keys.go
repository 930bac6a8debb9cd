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
	// redisKey names the shared state in Redis; set with ls.
	redisKey string
}

// ruleState holds a rule's entries, bounded to max keys. It survives Update
// for a rule of the same name and kind.
type ruleState struct {
	kind uint8
	max  int
	mu   sync.RWMutex
	m    map[key]*entry
	n    atomic.Int64 // len(m), read without the lock
}

func newRuleState(kind uint8, max int) *ruleState {
	return &ruleState{kind: kind, max: max, m: make(map[key]*entry)}
}

// get returns k's entry, creating it with mk when there is none; nil when
// the rule tracks max keys and none of them is at rest.
func (s *ruleState) get(k key, now int64, mk func() *entry) *entry {
	s.mu.RLock()
	e := s.m[k]
	s.mu.RUnlock()
	if e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e = s.m[k]; e != nil {
		return e
	}
	if len(s.m) >= s.max {
		for k2, e2 := range s.m {
			if e2.atRest(now) {
				delete(s.m, k2)
			}
		}
		if len(s.m) >= s.max {
			return nil
		}
	}
	e = mk()
	s.m[k] = e
	s.n.Store(int64(len(s.m)))
	return e
}

// each calls fn for every entry, outside the lock.
func (s *ruleState) each(fn func(*entry)) {
	s.mu.RLock()
	es := make([]*entry, 0, len(s.m))
	for _, e := range s.m {
		es = append(es, e)
	}
	s.mu.RUnlock()
	for _, e := range es {
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
