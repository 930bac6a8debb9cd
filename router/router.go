package router

import (
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/internal/clock"
	"github.com/llmgate/gateway/internal/hooks"
)

// Config configures a Router. Its zero value is a smooth weighted round-robin
// router with a retry budget and breakers of its own. A field left zero takes
// its default; a negative one is an error (Validate).
type Config struct {
	// Strategy spreads calls over a tier's eligible targets; default
	// WeightedRoundRobin.
	Strategy Strategy
	// Budget bounds fallbacks: every attempt after a call's first on this
	// router must win Budget.TryRetry. The router credits it with
	// Budget.OnCall, which deposits once per call however many layers
	// sharing it (a Retry outside, a rerun by that Retry) credit it. Share
	// the Budget of the service's breaker.Retry so retries and fallbacks
	// draw on one account; nil means a budget of the router's own, with
	// breaker's defaults.
	Budget *breaker.Budget
	// FirstTokenTimeout bounds how long a stream may go from the start of
	// an attempt without its first content event before the router gives
	// up on the target and moves the call to the next one (nothing has
	// reached the caller yet). Default breaker.DefaultFirstTokenTimeout,
	// the default of breaker.TimeoutConfig.FirstToken too;
	// NoFirstTokenTimeout sets none.
	FirstTokenTimeout time.Duration
	// HintFloor steers calls away from a target before it answers 429: one
	// whose last response said it has HintFloor requests left or fewer
	// (x-ratelimit-remaining-requests, anthropic-ratelimit-requests-remaining)
	// is saturated until its x-ratelimit-reset-requests (or Anthropic's
	// -reset time, else breaker.DefaultCooldown) passes, and one whose remaining tokens
	// are fewer than a call's estimate (prompt + max_tokens) is saturated
	// for that call. A saturated target is passed over, even for the next
	// tier, but still used when nothing else can serve. Default 1.
	HintFloor int
	// DisableHints turns rate-limit hints off.
	DisableHints bool
	// MaxWait bounds how long a call waits for a target when none can take
	// it now but one will soon (its cooldown after a 429 ends, its open
	// breaker lets a probe through): the router waits for the earliest when
	// the call's waits for capacity in all, a Retry outside included, stay
	// within MaxWait (and end before the context's deadline), and otherwise
	// returns gateway.ErrNoHealthyProvider at once, with a Retry-After. It
	// never sends inside a Retry-After window.
	// Default breaker.DefaultMaxWait, breaker.RetryConfig's default too.
	MaxWait time.Duration
	// Idempotent reports whether a call may be sent to another target after
	// an ambiguous failure (breaker.Ambiguous: a reset or timeout after
	// which the upstream may have acted on it). Nil means
	// breaker.DefaultIdempotent. Give it the func of the breaker.Retry
	// outside, so retries and fallbacks follow one rule.
	Idempotent func(*http.Request) bool
	// Clock is the source of time for hints and timeouts; nil means the
	// system clock. Default breakers and the default budget use it too.
	Clock gateway.Clock
	// Seed, when not 0, makes random picks reproducible (for tests): the
	// sequence is fixed when picks are made one at a time. 0 uses the
	// runtime's random source.
	Seed uint64
}

// DefaultHintFloor is the default of Config.HintFloor.
const DefaultHintFloor = 1

// NoFirstTokenTimeout, as Config.FirstTokenTimeout, gives the router no
// first-token timeout of its own, for targets whose middlewares bound the
// first token already (breaker.Timeouts does, for each attempt, as the
// main job's targets have it): a second bound would cost every stream a
// context, a deadline and a body wrapper for nothing.
const NoFirstTokenTimeout time.Duration = -1

// Validate reports an unknown Strategy or a negative FirstTokenTimeout
// (other than NoFirstTokenTimeout), HintFloor or MaxWait.
func (c Config) Validate() error {
	if c.Strategy > LatencyAware {
		return configError("unknown strategy %d", c.Strategy)
	}
	if (c.FirstTokenTimeout < 0 && c.FirstTokenTimeout != NoFirstTokenTimeout) || c.HintFloor < 0 || c.MaxWait < 0 {
		return configError("negative FirstTokenTimeout, HintFloor or MaxWait")
	}
	return nil
}

func (c Config) withDefaults() Config {
	c.Clock = clock.Or(c.Clock)
	if c.FirstTokenTimeout == 0 {
		c.FirstTokenTimeout = breaker.DefaultFirstTokenTimeout
	}
	if c.HintFloor == 0 {
		c.HintFloor = DefaultHintFloor
	}
	if c.MaxWait == 0 {
		c.MaxWait = breaker.DefaultMaxWait
	}
	if c.Idempotent == nil {
		c.Idempotent = breaker.DefaultIdempotent
	}
	if c.Budget == nil {
		c.Budget, _ = breaker.NewBudget(breaker.BudgetConfig{Clock: c.Clock}) // the defaults are valid
	}
	return c
}

// Router is a Provider made of Providers: it sends each call to one of its
// targets and, when that target fails in a way another may not, moves the
// same call to the next, so a service survives a whole provider going
// down.
//
// For each call the router finds the targets serving its model (Target.Models
// and ModelMap; the model is the Outbound's, gateway.OutboundFrom: the one
// asked, unless a router this one is a target of renamed it), and tries them
// tier by tier, lowest first, choosing within a tier by the Strategy (a
// fallback under WeightedRoundRobin draws by weight among the targets left
// and takes no turn, so a target that fails every call does not become
// every call's first pick). A target is eligible when its breaker would let the
// call through, it is not cooling down after a 429 and it has not failed
// this call already; one its rate-limit headers say is about to run out is
// used only when nothing else is left (see HintFloor). Each target is tried
// at most once per call, and the caller's context deadline bounds the chain.
// After the first attempt, a fallback to a healthy target (its latest
// outcome a success, under a fifth of its recent attempts failed) is sent
// at once and charged to the retry Budget only if it fails (Budget.Spend):
// one provider failing while another serves is no storm. Every other
// fallback must win Budget.TryRetry first; once the Budget refuses, only
// healthy targets are left to try. When every target fails, none is
// healthy, so the Budget bounds every fallback ((1+Ratio)·N + MinRetries
// attempts for N calls, plus at most one per call in flight and target
// when a healthy fleet dies at once), and a brownout (targets failing half
// their calls) gets no credit either. When no target can take
// the call now, the router waits for the earliest one to become ready if
// that is within MaxWait; it never sends inside a Retry-After window.
//
// A target whose health gate (Target.Healthy: an active health check) fails
// is passed over before any call goes to it, like an open one: no attempt,
// no breaker failure, no budget; a call that fails on a healthy target does
// not fall back to it. When no target serving the model passes its check,
// the checks are ignored and the targets are tried on their breakers alone,
// as Envoy's panic mode does: a probe tells less than a call (a models
// endpoint down or forbidden while completions serve, a probe timeout under
// load), so a fleet whose probes all fail still serves what it can, each
// target still guarded by its breaker, instead of answering 503 to every
// call. Ready and Status count such targets as unable to serve, so
// readiness (package health) fails and a load balancer can move traffic
// away meanwhile.
//
// What happens to an attempt's outcome:
//
//   - success (2xx; for a stream, once its first content event has
//     arrived): the response is returned. A stream that fails or stalls
//     (FirstTokenTimeout) before its first content moves on silently; after
//     it, nothing moves and a failure reaches the caller as a read error.
//   - 429: the target's breaker cools it down until its Retry-After (or
//     breaker.Config.Cooldown) passes; the call moves on. A 503 or 529 with
//     a Retry-After does the same.
//   - what breaker.Classify calls retryable (5xx, 408, 409, connection
//     refused or reset, timeouts): the call moves on.
//   - 401, 402, 403 (a dead key) or a redirect (breaker.IsTargetFault): the
//     target is out for this call; the call moves on.
//   - any other failure breaker.Classify calls fatal (400, 404, 413,
//     422…): the request itself is wrong, so it is returned as it is,
//     without fallback.
//   - an ambiguous failure (breaker.Ambiguous: a reset or a timeout after
//     the request was sent) of a call that Config.Idempotent says must not
//     be repeated: returned as it is, without fallback.
//   - the caller's context ends: its error is returned; no fallback, and
//     the breaker counts nothing.
//   - the caller's key may not use the model the target is sent
//     (gateway.ErrModelNotAllowed, from the attempt boundary): nothing was
//     sent, so no attempt, no budget, nothing learned; the call moves on,
//     and when no target was allowed that refusal (403) is returned.
//   - the Provider does not serve the call's operation (an error deriving
//     from gateway.ErrNotFound, not an upstream's 404 response: a Responses
//     or embedding call on an Anthropic target): the same, and when no
//     target serves it that refusal (404) is returned.
//
// When the chain ends with no success, the last failure is returned as the
// upstream gave it: its response (error body and Retry-After intact, so a
// breaker.Retry outside classifies it as it would a lone provider's), or its
// error. When no target could be tried at all the router returns
// gateway.ErrNoHealthyProvider at once, with a Retry-After when they are
// all cooling down or open (the soonest, longer than MaxWait), or
// gateway.ErrModelNotFound when no target serves the model. A target whose breaker would refuse (open, half-open with its
// probes out, cooling down) is passed over: no attempt, no budget spent.
//
// The router records no attempt itself: each target's Provider sits behind
// an attempt boundary of its own (the bottom of gateway.Chain(Provider,
// Middlewares...)), which records one gateway.Attempt per upstream try under
// the target's name and the model sent, however many tries the target's own
// middlewares make; a target that is itself a Dispatcher (another Router)
// gets no boundary, its own targets' record its attempts. Router is a
// gateway.Dispatcher. The model is renamed for a target with
// gateway.WithModel, so the target's middlewares and Provider see the model
// they send. When a Retry outside runs the router again for
// the same call, the targets that already failed it (from Call.Attempts) are
// avoided while others remain; dead keys stay out.
//
// GET /v1/models is answered by the router itself with the sorted union of
// the models its targets list, less those the call's Caller may not use.
//
// Update replaces the targets atomically; calls in flight finish on the
// configuration they started with, and a target that stays keeps its
// runtime state. Router is safe for concurrent use; picking a target takes
// no lock and allocates nothing.
type Router struct {
	name   string
	cfg    Config
	clock  gateway.Clock
	budget *breaker.Budget
	hints  hintPolicy
	seed   uint64

	strategy Strategy
	snap     atomic.Pointer[routerSnapshot]
	rngSeq   atomic.Uint64

	mu     sync.Mutex              // serialises Update
	states map[string]*targetState // by target name; guarded by mu
}

var (
	_ gateway.Dispatcher  = (*Router)(nil)
	_ gateway.ModelLister = (*Router)(nil)
)

// New returns a router called name over targets. It returns an error
// wrapping ErrConfig when there are no targets, a target has no Provider, a
// name is empty or repeated, a weight is not in 1..MaxWeight, a tier is
// negative, or cfg is invalid (Validate).
func New(name string, targets []Target, cfg Config) (*Router, error) {
	if name == "" {
		return nil, configError("router has no name")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	r := &Router{
		name:     name,
		cfg:      cfg,
		clock:    cfg.Clock,
		budget:   cfg.Budget,
		seed:     cfg.Seed,
		strategy: cfg.Strategy,
		states:   make(map[string]*targetState),
		hints: hintPolicy{off: cfg.DisableHints, floor: int64(cfg.HintFloor),
			fallback: breaker.DefaultCooldown, ceiling: breaker.DefaultMaxRetryAfter},
	}
	if err := r.Update(targets); err != nil {
		return nil, err
	}
	return r, nil
}

// Name returns the router's name.
func (r *Router) Name() string { return r.name }

// Models returns the sorted union of the models the targets list (their
// exact Models, or their Provider's ModelLister, and the exact keys of their
// ModelMap). Patterns are not listed.
func (r *Router) Models() []string { return slices.Clone(r.snap.Load().models) }

// Targets returns the names of the current targets, in order.
func (r *Router) Targets() []string {
	s := r.snap.Load()
	out := make([]string, len(s.targets))
	for i, t := range s.targets {
		out[i] = t.name
	}
	return out
}

// Update replaces the router's targets, weights and tiers at once, with the
// same validation as New; on error nothing changes. Calls in flight
// finish on the targets they started with; calls that start after Update
// returns see the new ones. A target whose name stays keeps its breaker
// and health gate (unless the new Target brings another), in-flight count,
// latency estimate, cooldown and hints; a removed target's state is
// dropped. Update may be called concurrently with calls and with itself.
func (r *Router) Update(targets []Target) error {
	names, err := validateTargets(targets)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	states := make(map[string]*targetState, len(targets))
	built := make([]*routeTarget, len(targets))
	for i := range targets {
		t := &targets[i]
		st := r.states[names[i]]
		if st == nil {
			st = &targetState{name: names[i]}
		}
		switch {
		case t.Breaker != nil:
			st.cb = t.Breaker
		case st.cb == nil:
			st.cb, _ = breaker.NewCircuitBreaker(names[i], breaker.Config{Clock: r.clock}) // the defaults are valid
		}
		if t.Healthy != nil {
			st.healthy = t.Healthy
		}
		states[names[i]] = st
		built[i] = &routeTarget{
			name:    names[i],
			weight:  uint64(t.Weight),
			tier:    t.Tier,
			models:  newModelSet(t),
			cb:      st.cb,
			healthy: st.healthy,
			rt:      r.targetChain(names[i], t, st.cb),
			st:      st,
		}
	}
	r.states = states
	r.snap.Store(newRouterSnapshot(built))
	return nil
}

// targetChain is how the router reaches one target: its breaker, outermost,
// then the first-token timeout (so a stream that stalls before it counts
// against the breaker), then the target's own middlewares, then the attempt
// boundary (gateway.Chain's) in front of its Provider, under the target's
// name. A Provider that is a Dispatcher (a router as a target) gets no
// boundary, as gateway.Chain gives it none: the Providers it forwards to
// sit behind boundaries of their own, which record its attempts.
func (r *Router) targetChain(name string, t *Target, cb *breaker.CircuitBreaker) http.RoundTripper {
	var p gateway.Provider = named{Provider: t.Provider, name: name}
	if _, ok := t.Provider.(gateway.Dispatcher); ok || hooks.IsBoundary(t.Provider) {
		// named would hide that it is a Dispatcher, or put a second
		// boundary in front of a chain's (gateway.Chain(p, …) as the
		// Provider): its attempts are its own Providers'.
		p = t.Provider
	}
	inner := gateway.Chain(p, t.Middlewares...)
	if r.cfg.FirstTokenTimeout == NoFirstTokenTimeout {
		return cb.Wrap(inner)
	}
	return cb.Wrap(r.firstTokenTimeout(inner))
}

// named is a target's Provider under the target's name, so that its attempts
// are recorded under it (a canary is the same Provider under another name).
type named struct {
	gateway.Provider
	name string
}

func (n named) Name() string { return n.name }
