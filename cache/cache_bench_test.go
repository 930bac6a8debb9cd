package cache

import (
	"context"
	"sync/atomic"
	"syscall"
	"testing"

	lru "github.com/hashicorp/golang-lru/v2"
)

const benchKeys = 4096

// benchDigests returns benchKeys digests from the n-th on.
func benchDigests(from uint64) []string {
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = digest(from + uint64(i))
	}
	return keys
}

// benchCache is a Cache over a store of benchKeys digests, each Get once.
func benchCache(b *testing.B) (*Cache[string, string], []string) {
	keys := benchDigests(0)
	st := newTestStore()
	for _, k := range keys {
		st.put(k, "meta")
	}
	c, err := New[string, string](st, Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	for _, k := range keys {
		if _, err := c.Get(context.Background(), k); err != nil {
			b.Fatal(err)
		}
	}
	return c, keys
}

// parallel runs look on every core, over keys from a different place in
// them on each; look reports whether it found what it should. Besides
// ns/op (wall time) it reports cpu-ns/op, the process's CPU time per
// lookup: on a machine shared with other work, wall time at 2 cores says
// how much CPU the process was given, while CPU time per lookup rising
// from 1 to 2 cores is what contention costs (scaling = 2 × cpu-ns/op at 1
// core / cpu-ns/op at 2).
func parallel(b *testing.B, keys []string, look func(string) bool) {
	var seq atomic.Uint64
	b.ReportAllocs()
	cpu0 := cpuTime()
	defer func() { b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op") }()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := seq.Add(7919)
		for pb.Next() {
			i++
			if !look(keys[i%benchKeys]) {
				b.Error("wrong answer")
				return
			}
		}
	})
}

// BenchmarkHit is a Get of a cached key from every core at once (-cpu
// 1,2): "cache" is this package's, "golang-lru" the same lookup on one
// golang-lru/v2 Cache, the stock alternative. With -count each round runs
// both, so their ratio is measured under the same load.
func BenchmarkHit(b *testing.B) {
	b.Run("cache", func(b *testing.B) {
		c, keys := benchCache(b)
		ctx := context.Background()
		parallel(b, keys, func(k string) bool { _, err := c.Get(ctx, k); return err == nil })
	})
	b.Run("golang-lru", func(b *testing.B) {
		keys := benchDigests(0)
		l, _ := lru.New[string, string](benchKeys * 2)
		for _, k := range keys {
			l.Add(k, "meta")
		}
		parallel(b, keys, func(k string) bool { _, ok := l.Get(k); return ok })
	})
}

// BenchmarkNegative is a key that does not exist: "get" is a whole Get
// (the shard's LRU, then the filter), "filter" the filter's own lock-free
// test.
func BenchmarkNegative(b *testing.B) {
	absent := benchDigests(1e9)
	b.Run("get", func(b *testing.B) {
		c, _ := benchCache(b)
		ctx := context.Background()
		parallel(b, absent, func(k string) bool { _, err := c.Get(ctx, k); return err == ErrNotFound })
	})
	b.Run("filter", func(b *testing.B) {
		c, _ := benchCache(b)
		parallel(b, absent, func(k string) bool { return !c.filter.mayContain(k) })
	})
}

// cpuTime is the process's user and system CPU time so far, in ns.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkHitOneKey is every core asking for the same key (one tenant's
// key on every call): one shard, one lock, for this package's cache and
// golang-lru's alike.
func BenchmarkHitOneKey(b *testing.B) {
	b.Run("cache", func(b *testing.B) {
		c, keys := benchCache(b)
		one := make([]string, benchKeys)
		for i := range one {
			one[i] = keys[0]
		}
		ctx := context.Background()
		parallel(b, one, func(k string) bool { _, err := c.Get(ctx, k); return err == nil })
	})
	b.Run("golang-lru", func(b *testing.B) {
		keys := benchDigests(0)
		l, _ := lru.New[string, string](benchKeys * 2)
		for _, k := range keys {
			l.Add(k, "meta")
		}
		one := make([]string, benchKeys)
		for i := range one {
			one[i] = keys[0]
		}
		parallel(b, one, func(k string) bool { _, ok := l.Get(k); return ok })
	})
}
