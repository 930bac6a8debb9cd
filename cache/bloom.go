package cache

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/bits-and-blooms/bloom/v3"
)

// foldAt is how many keys added one by one are held in a set of their own
// before they are folded into a copy of the newest filter: a copy costs
// the filter's size, so it is paid once per foldAt adds.
const foldAt = 64

// maxFilters is how many filters a set may hold before a rebuild is asked
// for: each absent key is tested against each of them.
const maxFilters = 4

// filterSet is one published state of a keyIndex. It is never modified once
// published, so readers need no lock.
type filterSet struct {
	filters []*bloom.BloomFilter
	recent  map[string]struct{} // added since the last fold
}

// keyIndex is the Bloom filter of the keys that exist. Readers (mayContain)
// load the published filterSet with one atomic read and take no lock;
// writers (add, a rebuild) build a new set under mu and publish it.
//
// It never rejects a key that exists, because every set it publishes holds:
// every key a rebuild's KeySource listed, and every key added since that
// rebuild began (add records keys in the live set and, during a rebuild, in
// the list the rebuilt set starts from). A key that exists before its
// Added returns is listed by any rebuild that starts after; one added
// during a rebuild is in that list. Removed keys stay in until the next
// rebuild: a false positive the LRU, the negative cache and the loader
// answer.
type keyIndex struct {
	cur atomic.Pointer[filterSet]

	mu         sync.Mutex
	n          uint // keys in the newest filter of cur
	cap        uint // what the newest filter of cur was sized for
	total      uint // keys in every filter of cur
	rebuilding bool
	during     []string // keys added since the running rebuild began
	expected   uint
	fp         float64
}

func newKeyIndex(expected int, fp float64) *keyIndex {
	k := &keyIndex{expected: uint(expected), fp: fp}
	k.cur.Store(&filterSet{filters: []*bloom.BloomFilter{bloom.NewWithEstimates(k.expected, fp)}})
	k.cap = k.expected
	return k
}

func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// mayContain reports whether key may exist; false means it certainly does
// not. It takes no lock and does not allocate.
func (k *keyIndex) mayContain(key string) bool {
	s := k.cur.Load()
	if len(s.recent) > 0 {
		if _, ok := s.recent[key]; ok {
			return true
		}
	}
	b := bytesOf(key)
	for _, f := range s.filters {
		if f.Test(b) {
			return true
		}
	}
	return false
}

// add records that key exists, in the set readers see before it returns.
// It reports whether the set has grown to maxFilters, when a rebuild would
// make absent keys cheaper to refuse.
func (k *keyIndex) add(key string) (wantRebuild bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.rebuilding {
		k.during = append(k.during, key)
	}
	s := k.cur.Load()
	if _, ok := s.recent[key]; ok {
		return false
	}
	next := &filterSet{filters: s.filters, recent: make(map[string]struct{}, len(s.recent)+1)}
	for r := range s.recent {
		next.recent[r] = struct{}{}
	}
	next.recent[key] = struct{}{}
	if len(next.recent) >= foldAt {
		next = k.fold(next)
	}
	k.cur.Store(next)
	return len(next.filters) >= maxFilters
}

// fold returns s with its recent keys in a copy of its newest filter, or in
// a new filter twice its size when it is full. Called with mu held.
func (k *keyIndex) fold(s *filterSet) *filterSet {
	filters := append([]*bloom.BloomFilter(nil), s.filters...)
	last := len(filters) - 1
	if k.n+uint(len(s.recent)) > k.cap {
		k.cap *= 2
		k.n = 0
		filters = append(filters, bloom.NewWithEstimates(k.cap, k.fp))
		last++
	} else {
		filters[last] = filters[last].Copy()
	}
	for r := range s.recent {
		filters[last].Add(bytesOf(r))
	}
	k.n += uint(len(s.recent))
	k.total += uint(len(s.recent))
	return &filterSet{filters: filters}
}

// rebuilder builds a new set, private until rebuilt publishes it.
type rebuilder struct {
	k       *keyIndex
	filters []*bloom.BloomFilter
	n, cap  uint
	total   uint
}

// beginRebuild starts a rebuild sized for twice the keys the current set
// holds; it returns nil when one is running already.
func (k *keyIndex) beginRebuild() *rebuilder {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.rebuilding {
		return nil
	}
	k.rebuilding, k.during = true, nil
	capacity := max(k.expected, 2*(k.total+uint(len(k.cur.Load().recent))))
	return &rebuilder{k: k, filters: []*bloom.BloomFilter{bloom.NewWithEstimates(capacity, k.fp)}, cap: capacity}
}

// add puts a listed key in the set being built.
func (r *rebuilder) add(key string) {
	if r.n >= r.cap {
		r.cap *= 2
		r.n = 0
		r.filters = append(r.filters, bloom.NewWithEstimates(r.cap, r.k.fp))
	}
	r.filters[len(r.filters)-1].Add(bytesOf(key))
	r.n++
	r.total++
}

// publish makes the built set, with every key added since the rebuild
// began, the one readers see; abandon (after a failed listing) keeps the
// current one. Exactly one of them ends every rebuild.
func (r *rebuilder) publish() {
	k := r.k
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, key := range k.during {
		r.add(key)
	}
	k.n, k.cap, k.total = r.n, r.cap, r.total
	k.rebuilding, k.during = false, nil
	k.cur.Store(&filterSet{filters: r.filters})
}

func (r *rebuilder) abandon() {
	r.k.mu.Lock()
	r.k.rebuilding, r.k.during = false, nil
	r.k.mu.Unlock()
}
