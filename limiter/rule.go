package limiter

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Dimension is what part of a call a rule keys its limit on: calls that
// share every one of a rule's dimensions share one limit.
type Dimension uint8

// The dimensions. A rule with none keeps one limit for every call.
const (
	KeyID  Dimension = iota + 1 // the caller's key id (gateway.Caller.KeyID)
	Tenant                      // the caller's tenant
	Model                       // the model asked (in Middleware) or sent (in Target)
	Target                      // the provider target: a rule keyed on it applies in Target middlewares only
)

// Unit is what a rule counts.
type Unit uint8

// The units.
const (
	// Requests counts calls: a token bucket (Per a second, minute or
	// hour) or a calendar quota (Per a day or month).
	Requests Unit = iota + 1
	// Tokens counts prompt and completion tokens: reserved before the call
	// (its prompt estimate plus max_tokens, or Config.DefaultMaxTokens when
	// it has none; an embedding's prompt alone), settled to the usage
	// recorded when the call ends, refunded when it ends with none (it
	// failed or was cancelled). A call that spends no tokens (the model
	// list, Anthropic's count_tokens) is not limited by a token rule.
	Tokens
	// Concurrent counts calls in flight, each held until its call ends. Per
	// must be unset. Always per instance (not Shared).
	Concurrent
)

// Period is the time a rule's Limit is for.
type Period uint8

// The periods. Second, Minute and Hour are token buckets that refill
// continuously; Day and Month are quotas that reset at the start of each
// calendar day or month in Config.Location.
const (
	Second Period = iota + 1
	Minute
	Hour
	Day
	Month
)

// Rule is one limit. A call is limited by every rule that applies to it (its
// model matches Models; in Middleware the rules not keyed on Target, in a
// Target middleware those keyed on it), and admitted only when all admit it:
// what earlier rules took is given back when a later one refuses.
//
// A Rule is configuration: the Limiter copies it.
type Rule struct {
	// Name identifies the rule: in errors, in Caller.Limits overrides, and
	// across Update, which keeps the counts of a rule of the same name.
	// Required and unique.
	Name string
	// Dimensions the limit is kept per; empty means one limit for all calls.
	Dimensions []Dimension
	// Models the rule applies to: exact names or patterns where '*' matches
	// any run of characters; empty means every model.
	Models []string
	Unit   Unit
	// Limit is how many Units the rule admits Per period (or at once, for
	// Concurrent). It must be positive: zero is a configuration error,
	// never "unlimited". A caller's Limits[Name] overrides it for the
	// caller's calls.
	Limit int64
	Per   Period
	// Burst is a token bucket's capacity: how many Units may be taken at
	// once after a quiet spell. Default Limit. Buckets only.
	Burst int64
	// Shares guarantees priority groups (gateway.Caller.Group) a share of
	// the limit, for groups 1 (core) and 2 (real-time): a call of group g is
	// admitted only while what is left after it covers the shares of the
	// groups more important than g. So group 1 can always take its share,
	// group 2 its own against group 3, and under saturation group 3 is
	// refused first, then group 2; a group may borrow whatever the others
	// leave unused. Each share is in (0, 1) and they sum to less than 1.
	Shares map[int]float64
	// Shared keeps the limit in Redis for a whole fleet (Config.Redis
	// required): see the package documentation on leases.
	Shared bool
	// FailOpen admits calls when the limit is Shared and Redis cannot be
	// reached in time; false refuses them (fail closed). Either way the
	// decision is made within Config.RedisTimeout and counted (Stats).
	FailOpen bool
}

// clone returns r with slices and map of its own.
func (r Rule) clone() Rule {
	r.Dimensions = append([]Dimension(nil), r.Dimensions...)
	r.Models = append([]string(nil), r.Models...)
	shares := make(map[int]float64, len(r.Shares))
	for g, v := range r.Shares {
		shares[g] = v
	}
	r.Shares = shares
	return r
}

// ErrConfig is wrapped by every configuration error of this package.
var ErrConfig = errors.New("limiter: invalid configuration")

// ErrNoRedis is wrapped by the error of a Shared rule in a Config without
// Redis (with ErrConfig), so that a configuration file can say which of its
// own keys is missing.
var ErrNoRedis = fmt.Errorf("%w: a shared rule needs Config.Redis", ErrConfig)

func configError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
}

// Validate reports every problem of r (errors.Join), each wrapping
// ErrConfig.
func (r Rule) Validate() error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, configError("rule %q: "+format, append([]any{r.Name}, args...)...))
	}
	if r.Name == "" {
		fail("has no name")
	}
	seen := map[Dimension]bool{}
	for _, d := range r.Dimensions {
		if d < KeyID || d > Target {
			fail("unknown dimension %d", d)
		} else if seen[d] {
			fail("dimension %s twice", d)
		}
		seen[d] = true
	}
	for _, m := range r.Models {
		if m == "" {
			fail("lists an empty model")
		}
	}
	if r.Limit <= 0 {
		fail("limit %d: a limit must be positive (zero is not \"unlimited\": leave the rule out)", r.Limit)
	}
	switch r.Unit {
	case Requests, Tokens:
		if r.Per < Second || r.Per > Month {
			fail("unit %s needs a period (second, minute, hour, day or month)", r.Unit)
		}
	case Concurrent:
		if r.Per != 0 {
			fail("a concurrent limit has no period")
		}
		if r.Shared {
			fail("a concurrent limit is per instance; it cannot be shared")
		}
	default:
		fail("unknown unit %d", r.Unit)
	}
	if r.Burst < 0 || r.Burst > 0 && (r.Unit == Concurrent || r.Per >= Day) {
		fail("burst %d: a burst is positive, and only for a token bucket (second, minute, hour)", r.Burst)
	}
	sum := 0.0
	for g, s := range r.Shares {
		if g != 1 && g != 2 {
			fail("share for group %d: shares are guaranteed to groups 1 and 2 (group 3 has what is left)", g)
		}
		if !(s > 0 && s < 1) {
			fail("share %v for group %d is not in (0, 1)", s, g)
		}
		sum += s
	}
	if sum >= 1 {
		fail("shares sum to %v; they must leave something (< 1)", sum)
	}
	if r.Limit > maxLimit || r.Burst > maxLimit {
		fail("limit or burst over %d", int64(maxLimit))
	} else if per := r.Per.duration(); per > 0 && r.Limit > 0 &&
		float64(max(r.Burst, r.Limit))*float64(per)/float64(r.Limit) > maxRefill {
		fail("burst %d at %d per %s takes over 73 years to refill", r.Burst, r.Limit, r.Per)
	}
	return errors.Join(errs...)
}

// maxLimit and maxRefill keep a bucket's arithmetic (units × nanoseconds per
// unit) inside int64: a limit or burst of at most 2^40 units, a whole burst
// refilled within 2^61 ns (73 years), leaving room for debt.
const (
	maxLimit  = 1 << 40
	maxRefill = 1 << 61
)

// duration is a bucket's period, 0 for a quota's.
func (p Period) duration() time.Duration {
	switch p {
	case Second:
		return time.Second
	case Minute:
		return time.Minute
	case Hour:
		return time.Hour
	}
	return 0
}

// matches reports whether the rule applies to a call of model.
func (r *Rule) matches(model string) bool {
	if len(r.Models) == 0 {
		return true
	}
	for _, m := range r.Models {
		if matchPattern(m, model) {
			return true
		}
	}
	return false
}

func (r *Rule) keyedOn(d Dimension) bool {
	for _, x := range r.Dimensions {
		if x == d {
			return true
		}
	}
	return false
}

// reserveFor returns the share of the limit a call of group g must leave:
// the shares of the groups more important than g.
func (r *Rule) reserveFor(g int) float64 {
	s := 0.0
	for h := 1; h < g; h++ {
		s += r.Shares[h]
	}
	return s
}

// reserveUnits is reserveFor in units of a capacity, rounded up so that a
// guarantee is never short.
func reserveUnits(share float64, capacity int64) int64 {
	if share <= 0 {
		return 0
	}
	return int64(math.Ceil(share * float64(capacity)))
}

// matchPattern reports whether name matches pattern, where '*' matches any
// run of characters.
func matchPattern(pattern, name string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == name
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(name, p)
		if i < 0 {
			return false
		}
		name = name[i+len(p):]
	}
	return strings.HasSuffix(name, last)
}

var (
	dimensionNames = [...]string{"", "key", "tenant", "model", "target"}
	unitNames      = [...]string{"", "requests", "tokens", "concurrent"}
	periodNames    = [...]string{"", "second", "minute", "hour", "day", "month"}
)

func (d Dimension) String() string { return nameOf(dimensionNames[:], int(d)) }
func (u Unit) String() string      { return nameOf(unitNames[:], int(u)) }
func (p Period) String() string    { return nameOf(periodNames[:], int(p)) }

func nameOf(names []string, i int) string {
	if i > 0 && i < len(names) {
		return names[i]
	}
	return fmt.Sprintf("unknown(%d)", i)
}

// UnmarshalText reads a dimension's name: key, tenant, model or target.
func (d *Dimension) UnmarshalText(b []byte) error {
	return parseName(dimensionNames[:], "dimension", b, (*uint8)(d))
}

// UnmarshalText reads a unit's name: requests, tokens or concurrent.
func (u *Unit) UnmarshalText(b []byte) error { return parseName(unitNames[:], "unit", b, (*uint8)(u)) }

// UnmarshalText reads a period's name: second, minute, hour, day or month.
func (p *Period) UnmarshalText(b []byte) error {
	return parseName(periodNames[:], "period", b, (*uint8)(p))
}

func parseName(names []string, what string, b []byte, dst *uint8) error {
	s := strings.ToLower(strings.TrimSpace(string(b)))
	for i, n := range names {
		if i > 0 && n == s {
			*dst = uint8(i)
			return nil
		}
	}
	return configError("unknown %s %q (one of %s)", what, s, strings.Join(names[1:], ", "))
}

// MarshalText writes the dimension's name.
func (d Dimension) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// MarshalText writes the unit's name.
func (u Unit) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// MarshalText writes the period's name.
func (p Period) MarshalText() ([]byte, error) { return []byte(p.String()), nil }
