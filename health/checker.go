package health

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/clock"
)

// Prober is a Provider that can check itself: provider.OpenAI (and so
// Azure, DeepSeek, vLLM, Ollama), provider.Anthropic and provider.Gemini
// ask their upstream's model list, which costs no tokens. The simulator
// (gatewaytest.Sim) has no HealthCheck, so it is never probed.
//
// HealthCheck must return when ctx ends, build its request from
// configuration only (a probe has no caller, so it can send no caller's
// key), and return an error that holds no key and no URL query: the
// Checker passes it to Config.OnChange and Status, which end in logs.
// This module's providers scrub theirs.
type Prober interface {
	HealthCheck(ctx context.Context) error
}

// Target is one target of a router, as the Checker sees it.
type Target struct {
	// Name is the target's name in router.Target, so that Checker.Healthy
	// gives the router the gate of the same target. Empty means
	// Provider.Name(), as in router.Target.
	Name     string
	Provider gateway.Provider // required; probed when it is a Prober
}

func (t Target) name() string {
	if t.Name != "" || t.Provider == nil {
		return t.Name
	}
	return t.Provider.Name()
}

// Checker probes the targets whose Provider is a Prober, each from a
// goroutine of its own, one probe at a time per target: after a first
// probe drawn within [0, Interval×Jitter], every Interval ± Jitter, each
// bounded by Timeout. A target starts healthy (the breakers guard it
// meanwhile); UnhealthyThreshold failed probes in a row mark it
// unhealthy, HealthyThreshold passed ones in a row mark it healthy again,
// and each transition is told to Config.OnChange once.
//
// A router reads a target's health through its gate (Healthy), given as
// router.Target.Healthy. A target that is not probed, removed by Update, or
// whose Checker is closed has no opinion: its gate reads healthy.
//
// Checker is safe for concurrent use. Close stops every goroutine it
// started and waits for them (and for an OnChange call in progress).
type Checker struct {
	cfg    Config
	clock  clock.Clock
	jitter *jitter

	updateMu sync.Mutex // serialises Update, Start and Close, which wait for probes outside mu
	mu       sync.Mutex // guards probes, closed and started
	probes   map[string]*probe
	closed   bool
	started  bool // probe loops run (not Deferred, or Start was called)
}

// ErrClosed is returned by Update on a closed Checker.
var ErrClosed = errors.New("health: checker closed")

// NewChecker returns a Checker probing the targets that are Probers (from
// its Start, when cfg.Deferred), or an error wrapping ErrConfig for an
// invalid cfg (Validate), a target without a Provider or a name, or a
// repeated name. It reports every error at once.
func NewChecker(targets []Target, cfg Config) (*Checker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := &Checker{cfg: cfg, clock: clock.Or(cfg.Clock), jitter: newJitter(cfg), probes: make(map[string]*probe), started: !cfg.Deferred}
	if err := c.Update(targets); err != nil {
		return nil, err
	}
	return c, nil
}

// validateTargets checks targets and returns their names.
func validateTargets(targets []Target) ([]string, error) {
	names := make([]string, len(targets))
	seen := make(map[string]bool, len(targets))
	var errs []error
	for i, t := range targets {
		names[i] = t.name()
		switch {
		case t.Provider == nil:
			errs = append(errs, configError("target %d (%q) has no Provider", i, t.Name))
		case names[i] == "":
			errs = append(errs, configError("target %d has no name", i))
		case seen[names[i]]:
			errs = append(errs, configError("duplicate target name %q", names[i]))
		}
		seen[names[i]] = true
	}
	return names, errors.Join(errs...)
}

// Update replaces the targets, as router.Router.Update does: a target whose
// name stays keeps its health and counts (its Provider is replaced, for the
// next probe), a new one starts healthy and is probed, and a removed one
// (or one whose Provider is no longer a Prober) stops being probed, its
// probe in progress cancelled and waited for, and its gate reads healthy.
// On error (as NewChecker's) nothing changes.
func (c *Checker) Update(targets []Target) error {
	names, err := validateTargets(targets)
	if err != nil {
		return err
	}
	c.updateMu.Lock()
	defer c.updateMu.Unlock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	next := make(map[string]*probe, len(targets))
	for i, t := range targets {
		pr, ok := t.Provider.(Prober)
		if !ok {
			continue
		}
		p := c.probes[names[i]]
		if p == nil {
			p = newProbe(strings.Clone(names[i]), pr)
			if c.started {
				c.start(p)
			}
		} else {
			p.setProber(pr)
		}
		next[names[i]] = p
	}
	var gone []*probe
	for name, p := range c.probes {
		if next[name] != p {
			gone = append(gone, p)
		}
	}
	c.probes = next
	c.mu.Unlock()
	stopAll(gone)
	return nil
}

// Start begins the probes of a Deferred Checker's targets; an Update after
// it starts its new targets' at once. It does nothing on a Checker that is
// not Deferred, already started, or closed.
func (c *Checker) Start() {
	c.updateMu.Lock()
	defer c.updateMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.started {
		return
	}
	c.started = true
	for _, p := range c.probes {
		c.start(p)
	}
}

// Close stops every probe, cancelling those in progress, and waits for
// their goroutines. Every gate then reads healthy. Close is idempotent.
func (c *Checker) Close() error {
	c.updateMu.Lock()
	defer c.updateMu.Unlock()
	c.mu.Lock()
	c.closed = true
	gone := make([]*probe, 0, len(c.probes))
	for _, p := range c.probes {
		gone = append(gone, p)
	}
	c.probes = map[string]*probe{}
	c.mu.Unlock()
	stopAll(gone)
	return nil
}

// stopAll stops the probes ps, which are no longer the Checker's, and
// waits for their loops; a probe whose loop never started (a Deferred
// Checker's, before Start) has none. Called with updateMu held, which Start
// holds as it starts loops.
func stopAll(ps []*probe) {
	for _, p := range ps {
		if p.cancel != nil {
			p.cancel()
		}
	}
	for _, p := range ps {
		if p.cancel != nil {
			<-p.done
		}
		p.ok.Store(true) // no longer probed: no opinion
	}
}

// Healthy returns the gate of the target called name, for
// router.Target.Healthy: it reports the target's health as of its latest
// transition, with one atomic load. It returns nil for a target that is not
// probed (not a Prober, or unknown), which a router takes as no check.
func (c *Checker) Healthy(name string) func() bool {
	c.mu.Lock()
	p := c.probes[name]
	c.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.ok.Load
}

// TargetStatus is one probed target as Status sees it.
type TargetStatus struct {
	Name    string
	Healthy bool
	// ConsecutiveFailures and ConsecutiveSuccesses count the latest run of
	// probes that failed or passed (one of them is 0).
	ConsecutiveFailures, ConsecutiveSuccesses int
	Probes                                    uint64    // probes ended, since the target was added
	Failures                                  uint64    // of them, those that failed
	Transitions                               uint64    // changes of Healthy, each told to OnChange
	LastProbe                                 time.Time // when the latest probe ended; zero before the first
	LastError                                 error     // the latest probe's error; nil when it passed
}

// Status returns the probed targets, sorted by name.
func (c *Checker) Status() []TargetStatus {
	c.mu.Lock()
	ps := make([]*probe, 0, len(c.probes))
	for _, p := range c.probes {
		ps = append(ps, p)
	}
	c.mu.Unlock()
	out := make([]TargetStatus, len(ps))
	for i, p := range ps {
		out[i] = p.status()
	}
	slices.SortFunc(out, func(a, b TargetStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// start runs p's probe loop in a goroutine of its own until p.cancel.
// Called with c.mu held.
func (c *Checker) start(p *probe) {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go c.run(ctx, p)
}

// run is one target's probe loop: wait, probe, record, tell.
func (c *Checker) run(ctx context.Context, p *probe) {
	defer close(p.done)
	wait := c.jitter.first()
	for {
		if clock.Sleep(ctx, c.clock, wait) != nil {
			return
		}
		err := c.probeOnce(ctx, p)
		if ctx.Err() != nil {
			return // stopped mid-probe: its result says nothing of the target
		}
		if changed, healthy, cause := p.record(err, c.clock.Now(), c.cfg); changed && c.cfg.OnChange != nil {
			c.cfg.OnChange(p.name, healthy, cause)
		}
		wait = c.jitter.next()
	}
}
