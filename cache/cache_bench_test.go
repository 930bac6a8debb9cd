package cache

import (
	"context"
	"sync/atomic"
	"testing"

	lru "github.com/hashicorp/golang-lru/v2"
)

const benchKeys = 4096

func benchDigests() []string {
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = digest(uint64(i))
	}
	return keys
}

// BenchmarkHit is a Get of a cached key from every core at once (-cpu
// 1,2): "cache" is this package's, "golang-lru" the same lookup on one
// golang-lru/v2 Cache, the stock alternative. With -count each round runs
// both, so their ratio is measured under the same load.
func BenchmarkHit(b *testing.B) {
	b.Run("cache", benchCacheHit)
	b.Run("golang-lru", benchLRUGet)
}

func benchCacheHit(b *testing.B) {
	keys := benchDigests()
	st := newTestStore()
	for _, k := range keys {
		st.put(k, "meta")
	}
	c, err := New[string, string](st, Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for _, k := range keys {
		if _, err := c.Get(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
	var seq atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := seq.Add(7919)
		for pb.Next() {
			i++
			if _, err := c.Get(ctx, keys[i%benchKeys]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchLRUGet(b *testing.B) {
	keys := benchDigests()
	l, _ := lru.New[string, string](benchKeys * 2)
	for _, k := range keys {
		l.Add(k, "meta")
	}
	var seq atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := seq.Add(7919)
		for pb.Next() {
			i++
			if _, ok := l.Get(keys[i%benchKeys]); !ok {
				b.Error("miss")
				return
			}
		}
	})
}

// BenchmarkBloomNegative is a Get of a key that does not exist: the filter
// answers, lock-free, before anything else is touched.
func BenchmarkBloomNegative(b *testing.B) {
	st := newTestStore()
	for _, k := range benchDigests() {
		st.put(k, "meta")
	}
	c, err := New[string, string](st, Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	absent := make([]string, benchKeys)
	for i := range absent {
		absent[i] = digest(uint64(1e9 + i))
	}
	ctx := context.Background()
	var seq atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := seq.Add(7919)
		for pb.Next() {
			i++
			if _, err := c.Get(ctx, absent[i%benchKeys]); err != ErrNotFound {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkBloomTest is the filter's own test of an absent key.
func BenchmarkBloomTest(b *testing.B) {
	k := newKeyIndex(DefaultExpectedKeys, DefaultFalsePositiveRate)
	for _, key := range benchDigests() {
		k.add(key)
	}
	absent := make([]string, benchKeys)
	for i := range absent {
		absent[i] = digest(uint64(1e9 + i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if k.mayContain(absent[i%benchKeys]) {
				b.Error("false positive")
				return
			}
		}
	})
}
