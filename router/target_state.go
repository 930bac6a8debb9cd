package router

import (
	"io"
	"math"
	"sync/atomic"
	"time"

	"github.com/llmgate/gateway/breaker"
)

// targetState is what a router learns about one target at run time. It is
// keyed by target name and survives Update, so a target that stays keeps its
// breaker (and so its cooldown), in-flight count, latency estimate and
// rate-limit hints.
// Every field is atomic: the hot path reads it without a lock.
type targetState struct {
	name string
	cb   *breaker.CircuitBreaker // guarded by Router.mu: Update keeps it across snapshots; calls use routeTarget.cb
	// healthy is the target's health gate (Target.Healthy), kept like cb;
	// guarded by Router.mu, calls use routeTarget.healthy.
	healthy func() bool

	// Read by every pick; written rarely (a hint). A target's cooldown is
	// its breaker's (CircuitBreaker.Ready), not kept here.
	lowReqUntil atomic.Int64 // unix ns: the upstream said it has (almost) no requests left
	tokUntil    atomic.Int64 // unix ns until which tokLeft holds
	tokLeft     atomic.Int64 // tokens the upstream said it has left

	_ [64]byte // keep the counters below off the cache line picks read

	// Written by every call.
	inflight atomic.Int64
	// lastOK: the latest outcome seen was a success. A fallback to a target
	// whose latest outcome was a success costs no budget up front (see
	// Router.RoundTrip); when every target fails, none has one, so the
	// budget bounds every fallback. Written only when it changes.
	lastOK  atomic.Bool
	latEWMA atomic.Uint64 // float64 bits: ns to first token (streams) or headers
	errEWMA atomic.Uint64 // float64 bits: share of recent attempts that failed
}

// Eligibility of a target for one pick, from best to worst.
const (
	eligible   = 0 // may serve
	saturated  = 1 // may serve only when no eligible target is left (hints, prior failures)
	unhealthy  = 2 // fails its health check: may serve only when no target of the model passes one
	ineligible = 3 // must not serve this pick
)

// status returns the target's eligibility by its rate-limit hints at now
// (unix ns), for a call that may use est tokens.
func (s *targetState) status(now, est int64) uint8 {
	if s.lowReqUntil.Load() > now {
		return saturated
	}
	if est > 0 && s.tokUntil.Load() > now && s.tokLeft.Load() < est {
		return saturated
	}
	return eligible
}

// ewmaAlpha weighs a new sample in the latency and error averages: about the
// last ten attempts count.
const ewmaAlpha = 0.2

func updateEWMA(v *atomic.Uint64, sample float64) {
	for {
		old := v.Load()
		f := math.Float64frombits(old)
		next := sample
		if old != 0 {
			next = f + ewmaAlpha*(sample-f)
		}
		if next == 0 {
			next = math.SmallestNonzeroFloat64 // 0 bits mean "no sample yet"
		}
		if v.CompareAndSwap(old, math.Float64bits(next)) {
			return
		}
	}
}

// observe feeds one attempt's outcome to the latency-aware strategy and to
// lastOK.
func (s *targetState) observe(latency time.Duration, failed bool) {
	if s.lastOK.Load() == failed {
		s.lastOK.Store(!failed)
	}
	if failed {
		updateEWMA(&s.errEWMA, 1)
		return
	}
	updateEWMA(&s.errEWMA, 0)
	updateEWMA(&s.latEWMA, float64(latency))
}

// creditMaxErrors is the highest recent error share (errEWMA) at which a
// target still gets fallbacks on credit: a target that fails more is in a
// brownout, and every fallback to it must win the budget.
const creditMaxErrors = 0.2

// creditworthy reports whether a fallback to the target may be sent on
// credit: its latest outcome was a success and it fails rarely of late.
func (s *targetState) creditworthy() bool {
	return s.lastOK.Load() && math.Float64frombits(s.errEWMA.Load()) < creditMaxErrors
}

// cost is the latency-aware strategy's estimate of how long a call sent now
// would take: latency × (in flight + 1), inflated by the recent error rate.
// A target with no sample yet costs least, so it is tried.
func (s *targetState) cost() float64 {
	lat := math.Float64frombits(s.latEWMA.Load())
	errs := math.Float64frombits(s.errEWMA.Load())
	return (lat + float64(time.Microsecond)) * float64(s.inflight.Load()+1) * (1 + 10*errs)
}

// inflightBody releases a target's in-flight count once, at the end of the
// body, a read error or Close, whichever comes first.
type inflightBody struct {
	io.ReadCloser
	st   *targetState
	done atomic.Bool
}

func (b *inflightBody) release() {
	if b.done.CompareAndSwap(false, true) {
		b.st.inflight.Add(-1)
	}
}

func (b *inflightBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.release()
	}
	return n, err
}

func (b *inflightBody) Close() error {
	b.release()
	return b.ReadCloser.Close()
}
