package breaker_test

import (
	"context"
	"testing"
	"time"

	fscb "github.com/failsafe-go/failsafe-go/circuitbreaker"

	"github.com/llmgate/gateway/breaker"
)

// BenchmarkBreakerVsFailsafe measures one closed-state call's permit and
// its success report: our CircuitBreaker's Acquire/Done against failsafe-go
// v0.9.8's permit API (TryAcquirePermit/RecordSuccess), configured alike
// (10 failures of the last 20 open it, 30 s delay, 3 successes close it).
func BenchmarkBreakerVsFailsafe(b *testing.B) {
	newOurs := func() *breaker.CircuitBreaker {
		return must(breaker.NewCircuitBreaker("a", breaker.Config{FailureThreshold: 20, FailureRateThreshold: 0.5,
			FailureThresholdWindow: 20, MinCalls: 20, Delay: 30 * time.Second, HalfOpenProbes: 3}))
	}
	newFailsafe := func() fscb.CircuitBreaker[any] {
		return fscb.NewBuilder[any]().WithFailureThresholdRatio(10, 20).WithDelay(30 * time.Second).
			WithSuccessThreshold(3).Build()
	}
	ours := func(cb *breaker.CircuitBreaker) {
		p, err := cb.Acquire()
		if err != nil {
			panic(err)
		}
		p.Done(breaker.Success)
	}
	failsafe := func(cb fscb.CircuitBreaker[any]) {
		if !cb.TryAcquirePermit() {
			panic("failsafe breaker refused")
		}
		cb.RecordSuccess()
	}
	b.Run("ours", func(b *testing.B) {
		cb := newOurs()
		b.ReportAllocs()
		for b.Loop() {
			ours(cb)
		}
	})
	b.Run("failsafe", func(b *testing.B) {
		cb := newFailsafe()
		b.ReportAllocs()
		for b.Loop() {
			failsafe(cb)
		}
	})
	b.Run("ours/parallel", func(b *testing.B) {
		cb := newOurs()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ours(cb)
			}
		})
	})
	b.Run("failsafe/parallel", func(b *testing.B) {
		cb := newFailsafe()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				failsafe(cb)
			}
		})
	})
}

// BenchmarkBulkheadAcquireRelease measures one slot taken and given back:
// the fixed Bulkhead against the adaptive one (failsafe-go's adaptive
// limiter, which allocates a permit and reads the wall clock twice).
func BenchmarkBulkheadAcquireRelease(b *testing.B) {
	for _, mode := range bulkheadModes {
		b.Run(mode.name, func(b *testing.B) {
			bh := must(breaker.NewBulkhead(64, breaker.BulkheadConfig{Adaptive: mode.adaptive}))
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					s, err := bh.Acquire(ctx)
					if err != nil {
						panic(err)
					}
					s.Release(breaker.Success)
				}
			})
		})
	}
}
