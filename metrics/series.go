package metrics

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// maxCachedSeries bounds a seriesCache. Past it a series is still
// recorded, resolved by its vector each time (slower, never unbounded:
// every label is bounded already).
const maxCachedSeries = 8192

// seriesCache maps a packed key of label indices to the series it names,
// so the per-call path resolves each series with one lock-free map lookup
// and allocates nothing. Additions copy the map (they stop once every
// series in use is cached). Safe for concurrent use; the zero value is
// empty.
type seriesCache struct {
	mu sync.Mutex
	m  atomic.Pointer[map[uint64]series]
}

// series is a histogram's or a counter's child.
type series struct {
	obs prometheus.Observer
	ctr prometheus.Counter
}

// get returns the series of key, resolving and caching it with mk when it
// is not cached yet.
func (c *seriesCache) get(key uint64, mk func() series) series {
	if m := c.m.Load(); m != nil {
		if s, ok := (*m)[key]; ok {
			return s
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var cur map[uint64]series
	if m := c.m.Load(); m != nil {
		cur = *m
	}
	if s, ok := cur[key]; ok {
		return s
	}
	s := mk()
	if len(cur) >= maxCachedSeries {
		return s
	}
	next := make(map[uint64]series, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[key] = s
	c.m.Store(&next)
	return s
}

// The kinds of series, in a key's top byte.
const (
	kDuration uint64 = iota + 1
	kFirstChunk
	kTokens
	kCalls
	kAttempts
	kRetries
	kFallbacks
	kHedges
	kCost
)

// key packs a kind and up to five label indices: the kind in bits 56-63,
// then 12, 12, 12, 8 and 12 bits.
func key(kind uint64, a, b, c, d, e int) uint64 {
	return kind<<56 | uint64(a&0xfff)<<44 | uint64(b&0xfff)<<32 | uint64(c&0xfff)<<20 | uint64(d&0xff)<<12 | uint64(e&0xfff)
}
