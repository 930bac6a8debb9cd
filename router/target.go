package router

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
)

// Target is one Provider in a Router, with how much traffic it takes, when it
// is used, which models it serves and what wraps it.
//
// A Target is configuration: the Router copies what it needs, so changing a
// Target after New or Update has no effect.
type Target struct {
	// Name identifies the target in attempts (but for a Provider that is a
	// gateway.Dispatcher, whose own targets name its attempts), metrics and
	// usage records, and keys its runtime state (breaker, in-flight count,
	// latency, cooldown) across Update. Empty means Provider.Name(). Unique in a router; never
	// a secret.
	Name     string
	Provider gateway.Provider // required
	// Weight is the target's share of its tier's traffic, relative to the
	// other targets of the tier serving the same model: a canary taking 5%
	// is weight 5 beside weight 95. It must be positive (at most MaxWeight).
	Weight int
	// Tier orders fallback: tier 0 serves first; tier n is used only for a
	// call that no eligible target of a lower tier can take (all open,
	// cooling down, saturated or already failed for the call). Not negative.
	Tier int
	// Models the target serves: exact names or patterns where '*' matches
	// any run of characters ("gpt-4*", "*"). Empty means the Provider's
	// ModelLister, or any model when it lists none.
	Models []string
	// ModelMap renames a model on the way upstream, asked -> sent: a
	// deployment name ("gpt-4.1" -> "prod-gpt41"), or a fallback to another
	// model ("gpt-4.1" -> "claude-sonnet-4.5" on a backup tier). A key may be
	// a pattern; an exact key wins over patterns, and patterns are tried
	// longest first. A model the map renames is served by the target even
	// when Models does not list it. The Call records the model sent.
	ModelMap map[string]string
	// Breaker guards the target. Nil means a default one
	// (breaker.NewCircuitBreaker(name, breaker.Config{Clock: Config.Clock})),
	// created once per target name and kept across Update.
	Breaker *breaker.CircuitBreaker
	// Middlewares wrap the Provider inside the breaker (an upstream RPM/TPM
	// limit, timeouts…), Middlewares[0] outermost, so their failures count
	// against the breaker.
	Middlewares []gateway.Middleware
	// Healthy, when set, is the target's active health check as of now
	// (health.Checker.Healthy gives one): a target for which it reports
	// false is passed over before any call is sent to it (no attempt, no
	// breaker failure, no budget), unless no target serving the call's
	// model passes its check (then the checks are ignored: see Router). The
	// router calls it at every pick, concurrently, so it must be cheap (an
	// atomic load) and safe for concurrent use. Nil means no check. Like
	// Breaker, it is kept by target name across Update unless the new
	// Target brings another.
	Healthy func() bool
}

// MaxWeight is the largest Target.Weight.
const MaxWeight = 1_000_000

// ErrConfig is wrapped by every error New, Update and Target.Validate return for
// an invalid configuration.
var ErrConfig = errors.New("router: invalid configuration")

func configError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
}

// validateTargets checks targets and returns their names (defaulted). It
// reports every invalid target at once (errors.Join).
func validateTargets(targets []Target) ([]string, error) {
	if len(targets) == 0 {
		return nil, configError("no targets")
	}
	names := make([]string, len(targets))
	seen := make(map[string]bool, len(targets))
	var errs []error
	for i := range targets {
		t := &targets[i]
		if err := t.validate(i); err != nil {
			errs = append(errs, err)
		}
		names[i] = t.name()
		if names[i] != "" && seen[names[i]] {
			errs = append(errs, configError("duplicate target name %q", names[i]))
		}
		seen[names[i]] = true
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return names, nil
}

// name is the target's name: Name, or its Provider's.
func (t *Target) name() string {
	if t.Name != "" || t.Provider == nil {
		return t.Name
	}
	return t.Provider.Name()
}

// Validate reports every problem of t taken alone (errors.Join), each
// wrapping ErrConfig: no Provider or no name, a weight outside 1..MaxWeight,
// a negative tier, an empty model, a ModelMap entry that is empty or sends a
// pattern, a nil middleware. New and Update report these and, across
// targets, a repeated name.
func (t Target) Validate() error { return t.validate(-1) }

// validate is Validate; i, when not negative, is the target's index, named
// in the error of a target that has no name to go by.
func (t *Target) validate(i int) error {
	if t.Provider == nil {
		if i >= 0 {
			return configError("target %d (%q) has no Provider", i, t.Name)
		}
		return configError("target %q has no Provider", t.Name)
	}
	name := t.name()
	if name == "" {
		return configError("target %d has no name", i)
	}
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, configError("target %q "+format, append([]any{name}, args...)...))
	}
	if t.Weight <= 0 || t.Weight > MaxWeight {
		fail("has weight %d; weights must be in 1..%d", t.Weight, MaxWeight)
	}
	if t.Tier < 0 {
		fail("has negative tier %d", t.Tier)
	}
	for _, m := range t.Models {
		if m == "" {
			fail("lists an empty model")
			break
		}
	}
	for k, v := range t.ModelMap {
		if k == "" || v == "" || strings.Contains(v, "*") {
			fail("maps %q to %q; both must be non-empty, and the model sent cannot hold '*'", k, v)
		}
	}
	for j, mw := range t.Middlewares {
		if mw == nil {
			fail("has a nil middleware at %d", j)
		}
	}
	return errors.Join(errs...)
}

// modelSet says which models a target serves and how it renames them. It is
// immutable once built.
type modelSet struct {
	any      bool              // serves every model
	exact    map[string]bool   // names without '*'
	patterns []string          // names with '*'
	renames  map[string]string // exact ModelMap keys
	renPat   []renamePattern   // pattern ModelMap keys, longest first
}

type renamePattern struct{ pattern, to string }

func newModelSet(t *Target) *modelSet {
	models := t.Models
	if len(models) == 0 {
		if l, ok := t.Provider.(gateway.ModelLister); ok {
			models = l.Models()
		}
	}
	s := &modelSet{any: len(models) == 0, exact: make(map[string]bool, len(models))}
	for _, m := range models {
		switch {
		case m == "*":
			s.any = true
		case strings.Contains(m, "*"):
			s.patterns = append(s.patterns, m)
		default:
			s.exact[m] = true
		}
	}
	for k, v := range t.ModelMap {
		if strings.Contains(k, "*") {
			s.renPat = append(s.renPat, renamePattern{k, v})
			continue
		}
		if s.renames == nil {
			s.renames = make(map[string]string, len(t.ModelMap))
		}
		s.renames[k] = v
	}
	sort.Slice(s.renPat, func(i, j int) bool {
		a, b := s.renPat[i].pattern, s.renPat[j].pattern
		if len(a) != len(b) {
			return len(a) > len(b)
		}
		return a < b
	})
	return s
}

// resolve returns the model to send upstream for the asked model, and
// whether the target serves it at all.
func (s *modelSet) resolve(model string) (string, bool) {
	if to, ok := s.renames[model]; ok {
		return to, true
	}
	for _, r := range s.renPat {
		if matchModelPattern(r.pattern, model) {
			return r.to, true
		}
	}
	if s.any || s.exact[model] {
		return model, true
	}
	for _, p := range s.patterns {
		if matchModelPattern(p, model) {
			return model, true
		}
	}
	return "", false
}

// listed appends the exact model names the target advertises: its models
// and the exact keys of its ModelMap. Patterns are not model names.
func (s *modelSet) listed(dst []string) []string {
	for m := range s.exact {
		dst = append(dst, m)
	}
	for m := range s.renames {
		dst = append(dst, m)
	}
	return dst
}

// matchModelPattern reports whether name matches pattern, where '*' matches
// any run of characters (including none) and every other byte matches
// itself. It runs in O(len(pattern)×len(name)) at worst, without
// allocating.
func matchModelPattern(pattern, name string) bool {
	p, n := 0, 0
	star, mark := -1, 0 // last '*' seen in pattern, and where in name it resumed
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case p < len(pattern) && pattern[p] == name[n]:
			p++
			n++
		case star >= 0:
			p = star + 1
			mark++
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
