package health

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmgate/gateway/internal/clock"
)

// ErrProbeTimeout is wrapped by the error of a probe that did not answer
// within Config.Timeout.
var ErrProbeTimeout = errors.New("health: probe timed out")

// probe is one probed target: its gate, its loop's handle and its counts.
type probe struct {
	name   string
	prober atomic.Pointer[proberRef]
	ok     atomic.Bool // the gate: healthy
	cancel context.CancelFunc
	done   chan struct{} // closed when the loop has returned

	mu                   sync.Mutex // guards the fields below
	fails, passes        int
	probes, failed, hops uint64
	last                 time.Time
	lastErr              error
}

type proberRef struct{ p Prober }

func newProbe(name string, pr Prober) *probe {
	p := &probe{name: name, done: make(chan struct{})}
	p.ok.Store(true)
	p.setProber(pr)
	return p
}

func (p *probe) setProber(pr Prober) { p.prober.Store(&proberRef{pr}) }

// probeOnce runs one health check, bounded by Timeout on the Checker's
// clock. Its error names the target and wraps the Prober's (or
// ErrProbeTimeout).
func (c *Checker) probeOnce(ctx context.Context, p *probe) error {
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := clock.AfterFunc(c.clock, c.cfg.Timeout, func() { cancel(ErrProbeTimeout) })
	err := p.prober.Load().p.HealthCheck(pctx)
	stop()
	switch {
	case err == nil:
		return nil
	case errors.Is(context.Cause(pctx), ErrProbeTimeout):
		return fmt.Errorf("health: target %q: %w after %v", p.name, ErrProbeTimeout, c.cfg.Timeout)
	default:
		return fmt.Errorf("health: target %q: probe failed: %w", p.name, err)
	}
}

// record counts one probe's outcome and reports whether it changed the
// target's health, the new health, and the error that marked it down.
func (p *probe) record(err error, at time.Time, cfg Config) (changed, healthy bool, cause error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.probes++
	p.last, p.lastErr = at, err
	healthy = p.ok.Load()
	if err != nil {
		p.failed++
		p.passes = 0
		p.fails++
		if healthy && p.fails >= cfg.UnhealthyThreshold {
			p.ok.Store(false)
			p.hops++
			return true, false, err
		}
		return false, healthy, nil
	}
	p.fails = 0
	p.passes++
	if !healthy && p.passes >= cfg.HealthyThreshold {
		p.ok.Store(true)
		p.hops++
		return true, true, nil
	}
	return false, healthy, nil
}

func (p *probe) status() TargetStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return TargetStatus{Name: p.name, Healthy: p.ok.Load(), ConsecutiveFailures: p.fails, ConsecutiveSuccesses: p.passes,
		Probes: p.probes, Failures: p.failed, Transitions: p.hops, LastProbe: p.last, LastError: p.lastErr}
}

// jitter draws the waits between probes.
type jitter struct {
	interval float64 // ns
	frac     float64
	mu       sync.Mutex // guards rng
	rng      *rand.Rand // nil: the runtime's generator
}

func newJitter(cfg Config) *jitter {
	j := &jitter{interval: float64(cfg.Interval), frac: cfg.Jitter}
	if cfg.Seed != 0 {
		j.rng = rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	}
	return j
}

func (j *jitter) float() float64 {
	if j.rng == nil {
		return rand.Float64()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.rng.Float64()
}

// first is the wait before a target's first probe: in [0, Interval×Jitter].
func (j *jitter) first() time.Duration { return time.Duration(j.float() * j.frac * j.interval) }

// next is the wait between probes: in [Interval×(1−Jitter), Interval×(1+Jitter)].
func (j *jitter) next() time.Duration {
	return time.Duration(j.interval * (1 + j.frac*(2*j.float()-1)))
}
