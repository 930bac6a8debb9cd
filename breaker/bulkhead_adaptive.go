package breaker

import (
	"context"

	"github.com/failsafe-go/failsafe-go/adaptivelimiter"
)

// permit is the part of failsafe-go's adaptivelimiter.Permit a Slot uses:
// exactly one of Record (a measured completion) or Drop (a release without
// a sample) per permit; a second call would release another call's place.
type permit interface {
	Record()
	Drop()
}

// limiter is the part of failsafe-go's AdaptiveLimiter a Bulkhead uses. An
// adaptivelimiter.AdaptiveLimiter satisfies it; tests substitute a fake to
// observe Record and Drop.
type limiter interface {
	TryAcquirePermit() (adaptivelimiter.Permit, bool)
	AcquirePermit(ctx context.Context) (adaptivelimiter.Permit, error)
	Limit() int
	Inflight() int
}

var _ limiter = adaptivelimiter.AdaptiveLimiter[any](nil)

// newAdaptiveLimiter builds failsafe-go's adaptive limiter with the given
// limits, without queueing: a call that finds it full is refused or waits
// in acquireAdaptive, on the Bulkhead's clock.
func newAdaptiveLimiter(minLimit, maxLimit, initial int) limiter {
	return adaptivelimiter.NewBuilder[any]().
		WithLimits(uint(minLimit), uint(maxLimit), uint(initial)).
		Build()
}

// acquireAdaptive takes a permit, waiting up to MaxWait on the Bulkhead's
// clock (failsafe-go's own wait reads the wall clock), and no longer than
// ctx.
func (b *Bulkhead) acquireAdaptive(ctx context.Context) (permit, error) {
	if p, ok := b.lim.TryAcquirePermit(); ok {
		return p, nil
	}
	if b.cfg.MaxWait <= 0 {
		return nil, ErrBulkheadFull
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	fire, stop := b.cfg.Clock.NewTimer(b.cfg.MaxWait)
	done, exited := make(chan struct{}), make(chan struct{})
	go func() { // ends the wait at MaxWait; never outlives this call
		defer close(exited)
		select {
		case <-fire:
			cancel()
		case <-done:
		}
	}()
	p, err := b.lim.AcquirePermit(wctx)
	close(done)
	stop()
	<-exited
	cancel()
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, ErrBulkheadFull
	}
	return p, nil
}
