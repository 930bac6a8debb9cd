package metrics

import (
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmgate/gateway"
)

// Bucket boundaries the OpenTelemetry GenAI semantic conventions give
// (ExplicitBucketBoundaries): seconds for the operation duration, tokens for
// the token usage, seconds for the time to the first chunk (the boundaries of
// gen_ai.server.time_to_first_token, which the client measure shares).
var (
	DurationBuckets   = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
	TokenBuckets      = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}
	FirstChunkBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
)

// Bounds of the label values.
const (
	// DefaultMaxTargets is Config.MaxTargets's default.
	DefaultMaxTargets = 64
	// maxTargets is the largest Config.MaxTargets, a bound on the series
	// each target multiplies (a target's index takes one of the 12-bit
	// fields of a series' key; two values are reserved: "" and "other").
	maxTargets = 254
	// maxModels bounds Config.Models: a model's index takes 12 bits.
	maxModels = 4000
	// maxTenants bounds Config.Tenants.
	maxTenants = 1000
	// maxErrorTypes bounds the error.type values (error codes, statuses),
	// whose index takes the 8-bit field of a series' key: the gateway's
	// codes are a fixed set, so this is a guard, not a limit a
	// configuration reaches.
	maxErrorTypes = 126
	// maxWatched bounds the caches, breakers and sinks that are watched.
	maxWatched = 256
)

// Config configures New. Its zero value is usable: a registry of the
// Metrics' own, no model labelled (every model is "other"), no tenant label,
// the semantic conventions' buckets, the system clock.
type Config struct {
	// Registerer takes the collectors. Nil means a new registry of the
	// Metrics' own (Handler serves it); the default (global) registry is
	// never used unless it is passed here.
	Registerer prometheus.Registerer
	// Models are the models labelled by name on gen_ai_request_model,
	// gen_ai_response_model and the cost: exact names, or patterns ending
	// in "*" ("gpt-4*"), which label every model they match with the
	// pattern itself. Every other model is "other", so a model string a
	// caller invents never mints a series. Give it the configured models
	// (and the models targets send after a ModelMap); SetModels changes it.
	Models []string
	// Tenants, when set, adds a tenant label to llmgate_calls_total and
	// llmgate_cost_usd_total: a listed tenant is itself, every other
	// non-empty one "other". Empty means no tenant label.
	Tenants []string
	// MaxTargets bounds the target (provider) label values: the first
	// MaxTargets distinct target names seen are labelled, later ones are
	// "other" (targets are configured, so this is a guard). 0 means
	// DefaultMaxTargets; at most 254.
	MaxTargets int
	// Buckets of the histograms; nil means the semantic conventions'.
	DurationBuckets, TokenBuckets, FirstChunkBuckets []float64
	// Clock ends a call's duration (Call.Start is its start); nil means
	// the system clock. Give it the entry point's clock (WithClock).
	Clock gateway.Clock
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	if c.MaxTargets < 0 || c.MaxTargets > maxTargets {
		errs = append(errs, fmt.Errorf("metrics: MaxTargets %d is not in [0, %d]", c.MaxTargets, maxTargets))
	}
	if len(c.Models) > maxModels {
		errs = append(errs, fmt.Errorf("metrics: %d models, more than %d", len(c.Models), maxModels))
	}
	if len(c.Tenants) > maxTenants {
		errs = append(errs, fmt.Errorf("metrics: %d tenants, more than %d", len(c.Tenants), maxTenants))
	}
	errs = append(errs, validNames("model", c.Models, true)...)
	errs = append(errs, validNames("tenant", c.Tenants, false)...)
	for _, b := range [...]struct {
		name string
		v    []float64
	}{{"DurationBuckets", c.DurationBuckets}, {"TokenBuckets", c.TokenBuckets}, {"FirstChunkBuckets", c.FirstChunkBuckets}} {
		if b.v != nil && !strictlyIncreasing(b.v) {
			errs = append(errs, fmt.Errorf("metrics: %s must be strictly increasing and not empty", b.name))
		}
	}
	return errors.Join(errs...)
}

func validNames(what string, names []string, patterns bool) []error {
	var errs []error
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		switch {
		case n == "" || n == otherLabel:
			errs = append(errs, fmt.Errorf("metrics: %s %q is reserved", what, n))
		case strings.Contains(strings.TrimSuffix(n, "*"), "*") || (!patterns && strings.Contains(n, "*")):
			errs = append(errs, fmt.Errorf("metrics: %s %q: '*' may only end a model pattern", what, n))
		case seen[n]:
			errs = append(errs, fmt.Errorf("metrics: %s %q is listed twice", what, n))
		}
		seen[n] = true
	}
	return errs
}

func strictlyIncreasing(v []float64) bool {
	for i := 1; i < len(v); i++ {
		if !(v[i] > v[i-1]) {
			return false
		}
	}
	return len(v) > 0
}

func (c Config) withDefaults() Config {
	if c.MaxTargets == 0 {
		c.MaxTargets = DefaultMaxTargets
	}
	if c.DurationBuckets == nil {
		c.DurationBuckets = DurationBuckets
	}
	if c.TokenBuckets == nil {
		c.TokenBuckets = TokenBuckets
	}
	if c.FirstChunkBuckets == nil {
		c.FirstChunkBuckets = FirstChunkBuckets
	}
	return c
}
