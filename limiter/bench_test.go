package limiter

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// decideOnce is one local decision as Middleware makes it, without the
// HTTP around it: the rules in force, the key looked up, one bucket taken.
func decideOnce(l *Limiter, in *input, h *hold) bool {
	var v views
	err, _ := l.decide(l.set.Load().caller, in, h, &v)
	h.reset()
	return err == nil
}

// BenchmarkLocalDecision compares a local decision (a request limit keyed
// on the caller's key: the key looked up in the rule's map, one CAS on its
// bucket, the clock read once; and one with no dimension, no lookup) with
// rate.Limiter.Allow on one limiter, in the same run; with -cpu 1,2 every
// goroutine shares the one key.
func BenchmarkLocalDecision(b *testing.B) {
	b.Run("limiter", func(b *testing.B) {
		l, err := New(Config{Rules: []Rule{{Name: "rpm", Dimensions: []Dimension{KeyID}, Unit: Requests, Limit: 1 << 39, Per: Second}}})
		require.NoError(b, err)
		defer l.Close()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			in := input{ctx: context.Background(), group: 3}
			in.vals[KeyID] = "key-1"
			h := hold{l: l, call: nil}
			for pb.Next() {
				if !decideOnce(l, &in, &h) {
					b.Error("refused")
					return
				}
			}
		})
	})
	b.Run("limiter-global", func(b *testing.B) {
		l, err := New(Config{Rules: []Rule{{Name: "rps", Unit: Requests, Limit: 1 << 39, Per: Second}}})
		require.NoError(b, err)
		defer l.Close()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			in := input{ctx: context.Background(), group: 3}
			h := hold{l: l}
			for pb.Next() {
				if !decideOnce(l, &in, &h) {
					b.Error("refused")
					return
				}
			}
		})
	})
	b.Run("rate.Limiter", func(b *testing.B) {
		rl := rate.NewLimiter(rate.Limit(1<<39), 1<<30)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !rl.Allow() {
					b.Error("refused")
					return
				}
			}
		})
	})
}

// BenchmarkSharedDecision compares a shared decision with leases against one
// Lua call per decision (the lease script asked for exactly one unit), on
// the Redis of redisForTest, and reports the share decided locally, Redis
// commands per decision and the p99 decision time.
func BenchmarkSharedDecision(b *testing.B) {
	rdb, prefix := redisForTest(b)
	b.Run("leases", func(b *testing.B) {
		l, err := New(Config{Redis: rdb, Prefix: prefix + randomID() + ":", Rules: []Rule{
			{Name: "fleet", Unit: Requests, Limit: 1 << 30, Per: Minute, Shared: true}}})
		require.NoError(b, err)
		defer l.Close()
		in := input{ctx: context.Background(), group: 3}
		h := hold{l: l}
		lat := make([]time.Duration, 0, min(b.N, 1<<20))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			start := time.Now()
			if !decideOnce(l, &in, &h) {
				b.Fatal("refused")
			}
			if len(lat) < cap(lat) {
				lat = append(lat, time.Since(start))
			}
		}
		b.StopTimer()
		s := l.Stats()
		b.ReportMetric(100*float64(s.SharedLocal)/float64(s.SharedLocal+s.SharedRedis), "%local")
		b.ReportMetric(float64(s.RedisCalls)/float64(b.N), "cmds/op")
		b.ReportMetric(float64(p99(lat).Nanoseconds()), "p99-ns")
	})
	b.Run("lua-per-decision", func(b *testing.B) {
		key := prefix + "lua:" + randomID()
		lat := make([]time.Duration, 0, min(b.N, 1<<20))
		per := strconv.FormatInt(time.Minute.Microseconds(), 10)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			start := time.Now()
			// A baseline, not a decision: no 200 ms bound on a loaded machine.
			v, err := leaseBucket.Run(context.Background(), rdb, []string{key}, per, 1<<30, 1<<30, 1, 1, 0).Int64Slice()
			if err != nil || v[0] != 1 {
				b.Fatal("refused", err)
			}
			if len(lat) < cap(lat) {
				lat = append(lat, time.Since(start))
			}
		}
		b.StopTimer()
		b.ReportMetric(0, "%local")
		b.ReportMetric(1, "cmds/op")
		b.ReportMetric(float64(p99(lat).Nanoseconds()), "p99-ns")
	})
}

func p99(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)*99/100]
}

// BenchmarkMiddleware is the whole server-side middleware on a call (the
// Call built by the entry point, headers set, no settlement for a request
// limit) against the same chain without it.
func BenchmarkMiddleware(b *testing.B) {
	p := sim(gatewaytest.SimConfig{CompletionTokens: 1})
	l, err := New(Config{Rules: []Rule{{Name: "rpm", Dimensions: []Dimension{KeyID}, Unit: Requests, Limit: 1 << 39, Per: Second}}})
	require.NoError(b, err)
	defer l.Close()
	for name, c := range map[string]*http.Client{"with": client(l, p), "without": gateway.NewClient(p)} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			body := callBody("m", false, 8)
			for i := 0; i < b.N; i++ {
				do(b, c, gateway.Caller{KeyID: "k"}, body)
			}
		})
	}
}

// BenchmarkLocalDecisionRatio runs the keyed local decision and
// rate.Limiter.Allow alternately, in chunks of 4,096 within each goroutine,
// so that a busy machine slows both alike, and reports each one's ns per
// decision and their ratio (limiter/rate). With -cpu 1,2.
func BenchmarkLocalDecisionRatio(b *testing.B) {
	l, err := New(Config{Rules: []Rule{{Name: "rpm", Dimensions: []Dimension{KeyID}, Unit: Requests, Limit: 1 << 39, Per: Second}}})
	require.NoError(b, err)
	defer l.Close()
	rl := rate.NewLimiter(rate.Limit(1<<39), 1<<30)
	const chunk = 4096
	var ours, theirs, nOurs, nTheirs atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		in := input{ctx: context.Background(), group: 3}
		in.vals[KeyID] = "key-1"
		h := hold{l: l}
		i, start := 0, time.Now()
		for pb.Next() {
			if (i/chunk)%2 == 0 {
				decideOnce(l, &in, &h)
			} else {
				rl.Allow()
			}
			i++
			if i%chunk == 0 {
				d := int64(time.Since(start))
				if (i/chunk)%2 == 1 {
					ours.Add(d)
					nOurs.Add(chunk)
				} else {
					theirs.Add(d)
					nTheirs.Add(chunk)
				}
				start = time.Now()
			}
		}
	})
	if nOurs.Load() > 0 && nTheirs.Load() > 0 {
		o, r := float64(ours.Load())/float64(nOurs.Load()), float64(theirs.Load())/float64(nTheirs.Load())
		b.ReportMetric(o, "limiter-ns")
		b.ReportMetric(r, "rate-ns")
		b.ReportMetric(o/r, "ratio")
	}
}
