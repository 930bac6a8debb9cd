package limiter

import (
	"sync"
	"sync/atomic"
)

// cowMap is a map read without a lock: lookups read an immutable snapshot
// through one atomic load; keys added since the snapshot wait in a dirty map
// under mu, and are folded into a new snapshot once they number a quarter of
// it (at least 32), or once lookups have found dirty keys as many times as
// there are (as sync.Map promotes), so each key is copied O(1) times on
// average and a key in use soon needs no lock. It is the limiter's key
// index: read on every decision, written once per new key.
//
// A cowMap is safe for concurrent use.
type cowMap[K comparable, V any] struct {
	snap   atomic.Pointer[map[K]V]
	mu     sync.Mutex
	dirty  map[K]V // under mu; keys not in snap
	misses int     // under mu: lookups that found a key in dirty
}

// load returns k's value: from the snapshot without a lock, else from the
// dirty keys.
func (m *cowMap[K, V]) load(k K) (V, bool) {
	if s := m.snap.Load(); s != nil {
		if v, ok := (*s)[k]; ok {
			return v, true
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.loadLocked(k)
	if _, dirty := m.dirty[k]; dirty {
		if m.misses++; m.misses >= len(m.dirty) {
			m.foldLocked(nil)
		}
	}
	return v, ok
}

func (m *cowMap[K, V]) loadLocked(k K) (V, bool) {
	if s := m.snap.Load(); s != nil {
		if v, ok := (*s)[k]; ok {
			return v, true
		}
	}
	v, ok := m.dirty[k]
	return v, ok
}

// storeLocked adds k, which is not in the map. Called with mu held.
func (m *cowMap[K, V]) storeLocked(k K, v V) {
	if m.dirty == nil {
		m.dirty = make(map[K]V)
	}
	m.dirty[k] = v
	snapLen := 0
	if s := m.snap.Load(); s != nil {
		snapLen = len(*s)
	}
	if len(m.dirty) >= max(snapLen/4, 32) {
		m.foldLocked(nil)
	}
}

// foldLocked builds a new snapshot of every key (but those drop says to
// leave out) and empties the dirty map. Called with mu held.
func (m *cowMap[K, V]) foldLocked(drop func(V) bool) {
	s := m.snap.Load()
	n := len(m.dirty)
	if s != nil {
		n += len(*s)
	}
	next := make(map[K]V, n)
	if s != nil {
		for k, v := range *s {
			if drop == nil || !drop(v) {
				next[k] = v
			}
		}
	}
	for k, v := range m.dirty {
		if drop == nil || !drop(v) {
			next[k] = v
		}
	}
	m.snap.Store(&next)
	m.dirty, m.misses = nil, 0
}

// lenLocked is the number of keys. Called with mu held.
func (m *cowMap[K, V]) lenLocked() int {
	n := len(m.dirty)
	if s := m.snap.Load(); s != nil {
		n += len(*s)
	}
	return n
}

// values returns every value.
func (m *cowMap[K, V]) values() []V {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []V
	if s := m.snap.Load(); s != nil {
		for _, v := range *s {
			out = append(out, v)
		}
	}
	for _, v := range m.dirty {
		out = append(out, v)
	}
	return out
}
