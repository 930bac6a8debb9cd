package billing

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/clock"
	"github.com/llmgate/gateway/internal/hooks"
)

// MeterConfig configures NewMeter. Its zero value is usable: the embedded
// price table, budgets with BudgetConfig's defaults, the system clock.
type MeterConfig struct {
	Prices *PriceTable // nil means DefaultPrices()
	Budget BudgetConfig
	Clock  gateway.Clock // stamps budget periods; nil means the system clock
}

// Validate reports every invalid field.
func (c MeterConfig) Validate() error { return c.Budget.Validate() }

// Meter is the billing middleware: it holds a call's budgets before the
// call goes on (refusing it with ErrBudgetExceeded when they cannot hold
// it), and when the call ends (its body closed or read to the end, or its
// failure; see hooks.OnEnd) it hands one Record per attempt that reached a
// provider to its Recorder, settles the holds to the real cost and releases
// the rest.
//
// What each attempt is billed: the attempt whose response reached the
// caller, the call's usage (Call.Usage: the provider's report, counted once
// however the stream carried it, or an estimate of what was delivered,
// flagged Estimated) at the price of the model it sent, on the target that
// served it; a call that delivered no output and had no usage reported
// (zero completion tokens, estimated) is billed nothing. Every other
// attempt (failed, or a hedge that lost) is recorded with zero usage and
// cost zero: the gateway cannot see what it consumed (its usage is flagged
// Estimated when the provider had answered 2xx). A model with no price
// gives CostKnown=false, never a silent zero.
//
// A settlement the BudgetStore fails is kept (at most MaxPendingSettles)
// and retried when a later call ends, with a backoff while the store stays
// down, and by SettlePending, which a shutdown should call.
//
// Update swaps the prices and budget settings of a running Meter; its
// store, and every spend and hold in it, stay (meter_update.go).
//
// A Meter is safe for concurrent use and starts no goroutine.
type Meter struct {
	rec     Recorder
	store   BudgetStore // fixed at NewMeter: Update keeps it
	clock   gateway.Clock
	cur     atomic.Pointer[meterSnapshot] // the prices and budgets in force
	stats   meterCounts
	settles settleQueue
	open    openCalls // the calls taken in whose records are not yet handed over
}

type meterCounts struct {
	records, enqueueErrors, unpriced, refused, settleErrors atomic.Int64
	settlesRetried, settlesLost                             atomic.Int64
}

// MeterStats are a Meter's counts since it was made.
type MeterStats struct {
	Records       int64 // handed to the Recorder
	EnqueueErrors int64 // the Recorder refused (it counts them too)
	Unpriced      int64 // records whose model had no price (CostKnown false)
	Refused       int64 // calls refused by a budget
	// SettleErrors counts the store's failed Settle calls, retries
	// included. A failed settlement is kept (SettlesPending) and retried at
	// a later call's end, with a backoff, or by SettlePending.
	SettleErrors   int64
	SettlesRetried int64 // pending settlements a retry then settled
	SettlesPending int64 // failed settlements waiting for a retry
	SettlesLost    int64 // failed with MaxPendingSettles pending: the spend is not in the budget
	// Open counts the calls taken in that have not ended, or whose
	// records and settlement are still being made (see Wait).
	Open int64
}

// NewMeter returns a Meter that hands records to rec, or cfg's errors.
func NewMeter(rec Recorder, cfg MeterConfig) (*Meter, error) {
	if rec == nil {
		return nil, errors.New("billing: NewMeter needs a Recorder")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := newMeterSnapshot(cfg)
	m := &Meter{rec: rec, store: s.budget.Store, clock: clock.Or(cfg.Clock)}
	m.cur.Store(s)
	return m, nil
}

// Stats returns the Meter's counts.
func (m *Meter) Stats() MeterStats {
	return MeterStats{Records: m.stats.records.Load(), EnqueueErrors: m.stats.enqueueErrors.Load(),
		Unpriced: m.stats.unpriced.Load(), Refused: m.stats.refused.Load(), SettleErrors: m.stats.settleErrors.Load(),
		SettlesRetried: m.stats.settlesRetried.Load(), SettlesPending: m.settles.n.Load(), SettlesLost: m.stats.settlesLost.Load(),
		Open: m.open.n.Load()}
}

// Middleware returns the Meter as a gateway.Middleware. It goes outside
// Retry (DESIGN.md's default order), so that one hold covers every attempt
// of a call. A call metered by an outer Meter (the same one, wrapped twice)
// is metered once.
func (m *Meter) Middleware() gateway.Middleware {
	return func(next http.RoundTripper) http.RoundTripper {
		if next == nil {
			panic("billing: Meter over a nil RoundTripper")
		}
		return &meterRT{m: m, next: next}
	}
}

type meterRT struct {
	m    *Meter
	next http.RoundTripper
}

// meterKey claims a call for one Meter layer.
type meterKey struct{ m *Meter }

func (rt *meterRT) RoundTrip(req *http.Request) (*http.Response, error) {
	c := gateway.CallFrom(req.Context())
	if c == nil || c.Op == gateway.OpModels || !hooks.CallOnce(c, meterKey{rt.m}) {
		return rt.next.RoundTrip(req)
	}
	s := rt.m.cur.Load() // once: the call holds, records and settles against it
	h, err := rt.m.hold(req.Context(), s, c)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	rt.m.open.add()
	hooks.OnEnd(c, func() {
		defer rt.m.open.done()
		rt.m.finish(s, c, h)
	})
	return rt.next.RoundTrip(req)
}

// callHold is what a call holds in its budgets.
type callHold struct {
	buckets []Bucket
	buf     [2]Bucket // a key's and a tenant's: no second allocation
	amount  int64
	priced  bool
}

// hold reserves the call's budgets, at s's prices and limits; nil when it
// has none.
func (m *Meter) hold(ctx context.Context, s *meterSnapshot, c *gateway.Call) (*callHold, error) {
	budget := &s.budget
	_, tenant := budget.Tenants[c.Caller.Tenant]
	if c.Caller.Budget.Limit == 0 && (!tenant || c.Caller.Tenant == "") {
		return nil, nil // no budget: the common case costs nothing
	}
	now := m.clock.Now()
	h := &callHold{}
	buckets := h.buf[:0]
	if b := c.Caller.Budget; b.Limit != 0 {
		bk, ok := bucketFor("key:"+c.Caller.KeyID, b, now, budget.Location)
		if !ok || b.Limit < 0 {
			return nil, ErrBudgetExceeded.WithMessage("billing: the key's budget is invalid")
		}
		buckets = append(buckets, bk)
	}
	if b, ok := budget.Tenants[c.Caller.Tenant]; ok && c.Caller.Tenant != "" {
		bk, _ := bucketFor("tenant:"+c.Caller.Tenant, b, now, budget.Location) // validated
		buckets = append(buckets, bk)
	}
	h.buckets = buckets
	price, ok := s.prices.Lookup("", c.Model)
	if !ok {
		if !budget.AdmitUnpriced {
			m.stats.refused.Add(1)
			return nil, ErrUnpricedModel
		}
	} else {
		h.priced = true
		out := c.MaxTokens
		if out <= 0 {
			out = budget.DefaultMaxTokens
		}
		if budget.Policy == Expected {
			out = min(out, budget.ExpectedOutputTokens)
		}
		if c.Op == gateway.OpEmbedding {
			out = 0
		}
		h.amount = price.maxCost(c.PromptTokens, out)
	}
	refused, err := m.store.Reserve(ctx, c.ID, buckets, h.amount, budget.HoldTTL, now)
	if err != nil {
		return nil, err
	}
	if refused >= 0 {
		m.stats.refused.Add(1)
		owner := "key " + c.Caller.KeyID
		if refused > 0 || c.Caller.Budget.Limit == 0 {
			owner = "tenant " + c.Caller.Tenant
		}
		return nil, exceeded(owner, buckets[refused], now)
	}
	return h, nil
}

// exceeded is the refusal for bucket b of owner ("key k1"): Retry-After
// until its period ends.
func exceeded(owner string, b Bucket, now time.Time) error {
	e := ErrBudgetExceeded.WithMessage("billing: budget exceeded for " + owner)
	if !b.Ends.IsZero() {
		e = e.WithRetryAfter(b.Ends.Sub(now))
	}
	return e
}
