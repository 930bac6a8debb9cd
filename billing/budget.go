package billing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/llmgate/gateway"
)

// Policy says how much of a call's possible cost a budget holds while the
// call runs. Every policy settles to the real cost when the call ends and
// releases the rest at once, also when the call fails or is cancelled.
type Policy int

const (
	// Strict holds a call's maximum cost: its prompt estimate with every
	// token at the highest input rate (a cache write's, where dearer) plus
	// max_tokens (or BudgetConfig.DefaultMaxTokens) at the output rate. A
	// call is admitted only if every hold and all spend fit the limit, so
	// concurrency cannot overrun a budget: spend exceeds the limit only by
	// what a call used beyond its hold (a prompt longer than estimated).
	// The price: calls whose maximum is far above what they really cost
	// are refused while holds, not spend, fill the budget.
	Strict Policy = iota
	// Expected holds a call's expected cost: its prompt estimate plus
	// min(max_tokens, BudgetConfig.ExpectedOutputTokens) at the output
	// rate. A burst of calls with a large max_tokens and small replies is
	// admitted while real spend is far below the budget. What it bounds:
	// spend can exceed the limit by at most what the calls in flight when
	// it was reached use beyond their holds, each at most its maximum cost
	// less its hold (bound the calls in flight with a concurrency limit to
	// bound it in money).
	Expected
)

func (p Policy) String() string {
	switch p {
	case Strict:
		return "strict"
	case Expected:
		return "expected"
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// Defaults of BudgetConfig.
const (
	// DefaultMaxTokens is the output a call that sets no max_tokens is held
	// for under Strict.
	DefaultMaxTokens = 4096
	// DefaultExpectedOutputTokens is the output a call is held for under
	// Expected, at most its max_tokens.
	DefaultExpectedOutputTokens = 1024
	// DefaultHoldTTL is how long a hold lives in a shared store when its
	// call never settles (the instance crashed): after it, the hold no
	// longer counts. It must be longer than the longest call.
	DefaultHoldTTL = 15 * time.Minute
	// DefaultSettleTimeout bounds settling a call's hold, which runs when
	// the call ends, in the goroutine that ended it.
	DefaultSettleTimeout = 2 * time.Second
)

// settledKeep is how long RedisBudgets remembers that an id was settled,
// so that a Settle retried after its reply was lost is applied once: longer
// than an outage the Meter's retries (at most 10s apart) span, short enough
// that a busy bucket's memory of settled ids stays small.
const settledKeep = 2 * time.Minute

// BudgetConfig configures the budgets a Meter enforces. Its zero value is
// usable: the Strict policy, a local store, no tenant budgets (a key's own
// budget, Caller.Budget, applies whenever it is set).
type BudgetConfig struct {
	// Store keeps spend and holds: NewLocalBudgets (one process) or
	// NewRedisBudgets (a fleet). Nil means a new local store.
	Store BudgetStore
	// Tenants are the budgets of tenants (Caller.Tenant), shared by all
	// their keys; a key's own budget applies as well.
	Tenants map[string]gateway.Budget
	Policy  Policy
	// DefaultMaxTokens is held (Strict) for a call that sets no max_tokens;
	// 0 means DefaultMaxTokens, a negative value is an error. The Meter
	// holds before a target is chosen, so this must be at least the
	// max_tokens any provider adapter sends for such a call (the Anthropic
	// adapter's default is the same 4096), or holds fall short.
	DefaultMaxTokens int
	// ExpectedOutputTokens is held (Expected); 0 means
	// DefaultExpectedOutputTokens, a negative value is an error.
	ExpectedOutputTokens int
	// Location is the time zone of the calendar periods; nil means UTC.
	Location *time.Location
	// HoldTTL: see DefaultHoldTTL. 0 means the default.
	HoldTTL time.Duration
	// SettleTimeout: see DefaultSettleTimeout. 0 means the default.
	SettleTimeout time.Duration
	// AdmitUnpriced admits a call with a budget whose model has no price,
	// holding nothing (its cost is unknown and its record says so). By
	// default it is refused with ErrUnpricedModel.
	AdmitUnpriced bool
}

// Validate reports every invalid field.
func (c BudgetConfig) Validate() error {
	var errs []error
	if c.Policy != Strict && c.Policy != Expected {
		errs = append(errs, fmt.Errorf("billing: unknown budget policy %d", int(c.Policy)))
	}
	if c.DefaultMaxTokens < 0 {
		errs = append(errs, errors.New("billing: DefaultMaxTokens is negative"))
	}
	if c.ExpectedOutputTokens < 0 {
		errs = append(errs, errors.New("billing: ExpectedOutputTokens is negative"))
	}
	if c.HoldTTL < 0 {
		errs = append(errs, errors.New("billing: HoldTTL is negative"))
	}
	if c.SettleTimeout < 0 {
		errs = append(errs, errors.New("billing: SettleTimeout is negative"))
	}
	for t, b := range c.Tenants {
		if err := validBudget(b); err != nil {
			errs = append(errs, fmt.Errorf("billing: tenant %q: %w", t, err))
		}
	}
	return errors.Join(errs...)
}

func validBudget(b gateway.Budget) error {
	var errs []error
	if b.Limit <= 0 {
		errs = append(errs, errors.New("budget limit must be positive"))
	}
	if _, ok := periodOf(b.Period); !ok {
		errs = append(errs, fmt.Errorf("unknown budget period %q (day, month or empty)", b.Period))
	}
	return errors.Join(errs...)
}

func (c BudgetConfig) withDefaults() BudgetConfig {
	if c.Store == nil {
		c.Store = NewLocalBudgets()
	}
	if c.DefaultMaxTokens == 0 {
		c.DefaultMaxTokens = DefaultMaxTokens
	}
	if c.ExpectedOutputTokens == 0 {
		c.ExpectedOutputTokens = DefaultExpectedOutputTokens
	}
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.HoldTTL == 0 {
		c.HoldTTL = DefaultHoldTTL
	}
	if c.SettleTimeout == 0 {
		c.SettleTimeout = DefaultSettleTimeout
	}
	return c
}

// Bucket is one budget in one period: what a BudgetStore keeps spend and
// holds in.
type Bucket struct {
	// Name identifies the budget and its period, e.g.
	// "key:k1:day:2026-12-01" or "tenant:acme:all". It never holds a
	// secret.
	Name  string
	Limit int64 // nano-dollars
	// Ends is when the period ends (the bucket can be forgotten some
	// time after); zero for a budget that never resets.
	Ends time.Time
}

// A BudgetStore keeps the spend and holds of budget buckets. Reserve holds
// amount in every bucket, atomically: all or none, and only if, in each,
// spend + holds + amount <= Limit; otherwise it holds nothing and returns
// the index of a bucket that refused (and a nil error); an id that holds in
// a bucket already is not held again there. Settle ends the hold
// id in every bucket and adds actual to their spend, also for a hold that
// has expired (the spend still counts). The Meter calls Settle again for an
// id only after it returned an error: a store whose Settle can fail after
// applying it (a remote one whose reply is lost) must apply a repeated
// Settle of an id once, as RedisBudgets does for settledKeep. A store
// expires a hold ttl after Reserve, so that a crashed caller's hold does
// not count forever.
//
// Implementations must be safe for concurrent use.
type BudgetStore interface {
	Reserve(ctx context.Context, id string, buckets []Bucket, amount int64, ttl time.Duration, now time.Time) (refused int, err error)
	Settle(ctx context.Context, id string, buckets []Bucket, actual int64, now time.Time) error
}

type period int

const (
	periodNone period = iota
	periodDay
	periodMonth
)

func periodOf(s string) (period, bool) {
	switch s {
	case "":
		return periodNone, true
	case "day":
		return periodDay, true
	case "month":
		return periodMonth, true
	}
	return 0, false
}

// bucketFor returns the bucket of budget b of owner ("key:k1") at now.
func bucketFor(owner string, b gateway.Budget, now time.Time, loc *time.Location) (Bucket, bool) {
	p, ok := periodOf(b.Period)
	if !ok {
		return Bucket{}, false
	}
	t := now.In(loc)
	switch p {
	case periodDay:
		start := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		return Bucket{Name: owner + ":day:" + start.Format("2006-01-02"), Limit: b.Limit, Ends: start.AddDate(0, 0, 1)}, true
	case periodMonth:
		start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
		return Bucket{Name: owner + ":month:" + start.Format("2006-01"), Limit: b.Limit, Ends: start.AddDate(0, 1, 0)}, true
	}
	return Bucket{Name: owner + ":all", Limit: b.Limit}, true
}

// storeError carries a store's failure under ErrBudgetUnavailable.
type storeError struct {
	ge    *gateway.Error
	cause error
}

func (e *storeError) Error() string   { return e.ge.Error() }
func (e *storeError) Unwrap() []error { return []error{e.ge, e.cause} }
