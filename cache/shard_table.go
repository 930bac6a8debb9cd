package cache

import (
	"math/bits"
	"sync/atomic"
)

// table is a shard's entries by their key's 64-bit hash, open-addressed
// with linear probing, so that a hit reads it with atomic loads and writes
// nothing: no lock, no cache line another core must give up. Only a writer
// holding the shard's lock changes it (put, del); a table that tombstones
// have filled is replaced by a fresh one, published atomically, and a
// reader holding the old one still finds every entry it held.
//
// It holds at most what the shard's LRU holds (put and del follow the
// LRU), and has twice as many slots, at least 8.
type table[K ~string, V any] struct {
	slots []atomic.Pointer[entry[K, V]]
	mask  uint64
	used  int // slots not nil, tombstones included; writers only
}

func newTable[K ~string, V any](size int) *table[K, V] {
	n := 8
	for n < 2*size {
		n *= 2
	}
	return &table[K, V]{slots: make([]atomic.Pointer[entry[K, V]], n), mask: uint64(n - 1)}
}

// slot is where h's probe starts: the shard was picked with h's low bits,
// so its high ones pick the slot.
func (t *table[K, V]) slot(h uint64) uint64 { return bits.RotateLeft64(h, 32) & t.mask }

// get returns the entry of key, whose hash is h, or nil. It takes no lock.
func (t *table[K, V]) get(h uint64, key K, tomb *entry[K, V]) *entry[K, V] {
	for i, n := t.slot(h), uint64(0); n <= t.mask; i, n = (i+1)&t.mask, n+1 {
		e := t.slots[i].Load()
		if e == nil {
			return nil
		}
		if e != tomb && e.h == h {
			if e.key == key {
				return e
			}
			return nil
		}
	}
	return nil
}

// put stores e in the slot of its hash, replacing the entry there, and
// reports whether the table must be rebuilt (too many slots used).
func (t *table[K, V]) put(e *entry[K, V], tomb *entry[K, V]) (full bool) {
	free := -1
	for i, n := t.slot(e.h), uint64(0); n <= t.mask; i, n = (i+1)&t.mask, n+1 {
		cur := t.slots[i].Load()
		switch {
		case cur == nil:
			if free < 0 {
				free = int(i)
				t.used++
			}
			t.slots[free].Store(e)
			return t.used*4 > len(t.slots)*3
		case cur == tomb:
			if free < 0 {
				free = int(i)
			}
		case cur.h == e.h:
			t.slots[i].Store(e)
			return false
		}
	}
	t.slots[free].Store(e) // no nil slot: the table is all entries and tombstones
	return true
}

// del removes the entry of hash h, leaving a tombstone for the probes that
// pass its slot.
func (t *table[K, V]) del(h uint64, tomb *entry[K, V]) {
	for i, n := t.slot(h), uint64(0); n <= t.mask; i, n = (i+1)&t.mask, n+1 {
		cur := t.slots[i].Load()
		if cur == nil {
			return
		}
		if cur != tomb && cur.h == h {
			t.slots[i].Store(tomb)
			return
		}
	}
}
