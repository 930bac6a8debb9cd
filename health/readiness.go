package health

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/clock"
	"github.com/llmgate/gateway/router"
)

// Routes is what readiness asks of a router; *router.Router is one.
type Routes interface {
	// Models lists the models the router's targets name exactly.
	Models() []string
	// Ready reports whether some target serving model can take calls
	// (breaker not open, health check passing).
	Ready(model string) bool
	// Status returns the targets, each with router.TargetStatus.CanServe.
	Status() []router.TargetStatus
}

// Check is a dependency readiness needs to answer, such as the key store
// or Redis. Fn must return when its context ends; its context ends after
// ReadinessConfig.Timeout.
type Check struct {
	Name string // shown in a not-ready answer; never a secret
	Fn   func(ctx context.Context) error
}

// ReadinessConfig configures a Readiness. Its zero value requires every
// model the router lists and no dependency.
type ReadinessConfig struct {
	// Models are the models that must each have a target able to serve
	// them. Nil means the router's Models(); when that is empty too (every
	// target serves any model, or patterns), some target must be able to
	// serve at all.
	Models []string
	// Checks are the dependencies that must answer, run concurrently.
	Checks []Check
	// Timeout bounds each check, on Clock; one that has not answered by
	// then fails. Default DefaultCheckTimeout.
	Timeout time.Duration
	// CacheFor is how long a report is reused: however often /readyz is
	// asked (it is not behind auth), the checks run at most once per
	// CacheFor, and callers asking while they run share that run. Default
	// DefaultCacheFor.
	CacheFor time.Duration
	// Clock is the source of time for Timeout and CacheFor; nil means the
	// system clock.
	Clock gateway.Clock
}

// Defaults of ReadinessConfig, and its bounds.
const (
	DefaultCheckTimeout = 2 * time.Second
	DefaultCacheFor     = time.Second
	// MaxModels and MaxChecks bound what a Readiness is asked to watch, and
	// so each report and each answer.
	MaxModels = 1024
	MaxChecks = 64
)

// Readiness decides whether the gateway is ready for traffic: for each
// configured model some target can serve it (router.Router.Ready), and
// every Check answers in time. It is an http.Handler for /readyz (see
// ServeHTTP). Readiness is safe for concurrent use; it starts goroutines
// only while a report runs (one per check), and they end with it.
type Readiness struct {
	routes Routes
	cfg    ReadinessConfig
	clock  clock.Clock

	draining atomic.Bool // Drain was called: not ready, for good

	mu       sync.Mutex // guards the fields below
	last     Report
	lastAt   time.Time
	have     bool
	inflight chan struct{} // closed when the report running ends; nil when none runs
}

// Report is one readiness decision. Its slices may be shared with other
// callers of Report: read them, never modify them.
type Report struct {
	Ready bool
	// Unservable are the configured models no target can serve, in
	// configuration order ("*" for "no target at all" when no model is
	// configured).
	Unservable []string
	// Failed are the checks that failed, in configuration order.
	Failed []CheckFailure
}

// CheckFailure is a Check that failed, with its error (for logs; the
// /readyz answer shows only the name).
type CheckFailure struct {
	Name string
	Err  error
}

// ErrCheckTimeout is wrapped by the error of a check that did not answer
// within ReadinessConfig.Timeout.
var ErrCheckTimeout = errors.New("health: check timed out")

// ErrDraining is the error of the check a drained Readiness reports failed,
// named DrainingCheck.
var ErrDraining = errors.New("health: shutting down")

// DrainingCheck names the failed check of every report after Drain.
const DrainingCheck = "shutting_down"

// Drain makes every later report not ready, at once (no cached report is
// served) and for good, with one failed check, DrainingCheck: a server
// that is shutting down tells the load balancers polling /readyz to send
// it nothing new while it finishes the calls it has. Safe to call more
// than once and concurrently with Report.
func (r *Readiness) Drain() { r.draining.Store(true) }

// NewReadiness returns a Readiness over routes (nil for a gateway without a
// router: only the checks count), or an error wrapping ErrConfig for a
// negative Timeout or CacheFor, a check without a name or Fn, a repeated
// check name, or more than MaxModels models or MaxChecks checks.
func NewReadiness(routes Routes, cfg ReadinessConfig) (*Readiness, error) {
	var errs []error
	if cfg.Timeout < 0 || cfg.CacheFor < 0 {
		errs = append(errs, configError("negative Timeout or CacheFor"))
	}
	if len(cfg.Models) > MaxModels || len(cfg.Checks) > MaxChecks {
		errs = append(errs, configError("more than %d models or %d checks", MaxModels, MaxChecks))
	}
	seen := make(map[string]bool, len(cfg.Checks))
	for i, c := range cfg.Checks {
		switch {
		case c.Name == "" || c.Fn == nil:
			errs = append(errs, configError("check %d (%q) has no name or no Fn", i, c.Name))
		case seen[c.Name]:
			errs = append(errs, configError("duplicate check name %q", c.Name))
		}
		seen[c.Name] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultCheckTimeout
	}
	if cfg.CacheFor == 0 {
		cfg.CacheFor = DefaultCacheFor
	}
	cfg.Models = append([]string(nil), cfg.Models...)
	cfg.Checks = append([]Check(nil), cfg.Checks...)
	return &Readiness{routes: routes, cfg: cfg, clock: clock.Or(cfg.Clock)}, nil
}

// Report returns the readiness decision: the latest one when it is younger
// than CacheFor, the one running when another caller started it, or a new
// one. A ctx that ends while it waits for another's run returns a report
// that is not ready, naming ctx's error as a failed check "context".
func (r *Readiness) Report(ctx context.Context) Report {
	if r.draining.Load() {
		return Report{Failed: []CheckFailure{{Name: DrainingCheck, Err: ErrDraining}}}
	}
	r.mu.Lock()
	if r.have && r.clock.Now().Sub(r.lastAt) < r.cfg.CacheFor {
		rep := r.last
		r.mu.Unlock()
		return rep
	}
	if ch := r.inflight; ch != nil {
		r.mu.Unlock()
		select {
		case <-ch:
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.last
		case <-ctx.Done():
			return Report{Failed: []CheckFailure{{Name: "context", Err: ctx.Err()}}}
		}
	}
	ch := make(chan struct{})
	r.inflight = ch
	r.mu.Unlock()

	// Others may share this run: a caller leaving does not cut it short;
	// Timeout bounds it.
	rep := r.evaluate(context.WithoutCancel(ctx))

	r.mu.Lock()
	r.last, r.lastAt, r.have, r.inflight = rep, r.clock.Now(), true, nil
	r.mu.Unlock()
	close(ch)
	return rep
}

// evaluate asks the router about every model and runs every check.
func (r *Readiness) evaluate(ctx context.Context) Report {
	var rep Report
	if r.routes != nil {
		rep.Unservable = r.unservable()
	}
	rep.Failed = r.runChecks(ctx)
	rep.Ready = len(rep.Unservable) == 0 && len(rep.Failed) == 0
	return rep
}

func (r *Readiness) unservable() []string {
	models := r.cfg.Models
	if models == nil {
		models = r.routes.Models()
	}
	if len(models) == 0 {
		for _, t := range r.routes.Status() {
			if t.CanServe {
				return nil
			}
		}
		return []string{"*"}
	}
	var out []string
	for _, m := range models {
		if !r.routes.Ready(m) {
			out = append(out, m)
		}
	}
	return out
}

// runChecks runs the checks concurrently, each bounded by Timeout, and
// returns those that failed, in order. It returns when every check has.
func (r *Readiness) runChecks(ctx context.Context) []CheckFailure {
	errs := make([]error, len(r.cfg.Checks))
	var wg sync.WaitGroup
	for i, c := range r.cfg.Checks {
		wg.Go(func() { errs[i] = r.runCheck(ctx, c) })
	}
	wg.Wait()
	var out []CheckFailure
	for i, err := range errs {
		if err != nil {
			out = append(out, CheckFailure{Name: r.cfg.Checks[i].Name, Err: err})
		}
	}
	return out
}

func (r *Readiness) runCheck(ctx context.Context, c Check) error {
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := clock.AfterFunc(r.clock, r.cfg.Timeout, func() { cancel(ErrCheckTimeout) })
	err := c.Fn(cctx)
	stop()
	if err != nil && errors.Is(context.Cause(cctx), ErrCheckTimeout) {
		return fmt.Errorf("health: check %q: %w after %v", c.Name, ErrCheckTimeout, r.cfg.Timeout)
	}
	return err
}
