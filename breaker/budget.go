package breaker

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/clock"
	"github.com/llmgate/gateway/internal/hooks"
)

// BudgetConfig configures a Budget. The zero value is the default budget:
// retries up to 20% of requests, with a floor of 10 retries, over a sliding
// 10 s window. A field left zero takes its default; a negative or
// out-of-range one is an error (Validate).
type BudgetConfig struct {
	// Ratio is the share of requests that may be retried: each first
	// attempt deposits Ratio of a retry. Default 0.2. Must be in (0, 1].
	Ratio float64
	// MinRetries is the floor: retries always allowed per Window, however
	// little traffic there is, so a quiet service can still retry, and a
	// router can still fall back while a target that just died has not yet
	// tripped its breaker. Default 10.
	MinRetries int
	// Window is how long a deposit or a withdrawal counts. Default 10 s.
	Window time.Duration
	// Clock is the source of time; nil means the system clock.
	Clock gateway.Clock
}

// Default budget parameters.
const (
	DefaultBudgetRatio      = 0.2
	DefaultBudgetMinRetries = 10
	DefaultBudgetWindow     = 10 * time.Second
)

// Budget bounds retries to a share of traffic, in the manner of Finagle's
// RetryBudget: every call deposits Ratio of a retry (OnCall, once per call),
// every retry, hedge or fallback to another target withdraws a whole one
// (TryRetry), and both expire after Window. Over any window the retries
// TryRetry allows are at most MinRetries + Ratio × requests, so when
// everything fails, N calls make at most (1+Ratio)·N + MinRetries attempts
// however many retries each is configured for: a fleet-wide outage cannot
// multiply the load on the upstream. The one exception is a router's
// fallback to a healthy target (its latest outcome a success, its recent
// error share low), sent on credit and withdrawn with Spend only if it
// fails: when everything fails no target is healthy, so the bound holds.
//
// One Budget is meant to be shared by every Retry, Hedge and router of a
// service (or of one upstream). A Budget is safe for concurrent use and
// allocates nothing; OnRequest is one atomic add on most calls (OnCall adds
// a claim on the Call), TryRetry takes a short lock.
type Budget struct {
	ratio  float64
	floor  float64
	clock  gateway.Clock
	origin time.Time

	// pending counts deposits not yet placed in a slot: OnRequest places
	// them in batches, so that most calls neither lock nor read the clock
	// (a clock read costs more than the rest of a call's overhead).
	pending atomic.Int64

	mu  sync.Mutex
	win ring // deposits in a, withdrawals in b
}

func (c BudgetConfig) withDefaults() BudgetConfig {
	if c.Ratio == 0 {
		c.Ratio = DefaultBudgetRatio
	}
	if c.MinRetries == 0 {
		c.MinRetries = DefaultBudgetMinRetries
	}
	if c.Window == 0 {
		c.Window = DefaultBudgetWindow
	}
	return c
}

// Validate reports a Ratio outside (0, 1], a negative MinRetries, or a
// Window shorter than 10 ns (once the defaults are applied).
func (c BudgetConfig) Validate() error {
	d := c.withDefaults()
	if !(d.Ratio > 0 && d.Ratio <= 1) || d.MinRetries < 0 || d.Window < ringSlots {
		return fmt.Errorf("breaker: invalid BudgetConfig: Ratio %v must be in (0, 1], MinRetries %d not negative, Window %v positive",
			c.Ratio, c.MinRetries, c.Window)
	}
	return nil
}

// NewBudget returns a Budget, or an error for an invalid cfg (Validate).
func NewBudget(cfg BudgetConfig) (*Budget, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newBudget(cfg.withDefaults()), nil
}

// newBudget returns a Budget for a valid cfg with its defaults applied.
func newBudget(cfg BudgetConfig) *Budget {
	clk := clock.Or(cfg.Clock)
	return &Budget{
		ratio:  cfg.Ratio,
		floor:  float64(cfg.MinRetries),
		clock:  clk,
		origin: clk.Now(),
		win:    ring{slot: cfg.Window / ringSlots},
	}
}

// advance moves the window to now. b.mu is held.
func (b *Budget) advance() int { return b.win.advance(b.clock.Now().Sub(b.origin)) }

// depositBatch is how many deposits OnRequest gathers before it places
// them. A deposit waits at most that many calls (or until the next
// TryRetry) to count, and then counts for a whole Window.
const depositBatch = 32

// OnCall deposits Ratio of a retry for call c, once however many layers
// sharing the Budget (Retry, Hedge, a router) call it for c: the first claim
// of b on c deposits, later ones do nothing. A nil c is a call of its own and
// deposits. Layers credit a Budget through OnCall, so sharing one never
// credits a call twice.
func (b *Budget) OnCall(c *gateway.Call) {
	if c == nil || hooks.CallOnce(c, b) {
		b.OnRequest()
	}
}

// OnRequest records a first attempt, depositing Ratio of a retry. Call it
// once per call, not per attempt; a layer that may share the Budget with
// others calls OnCall instead.
func (b *Budget) OnRequest() {
	if b.pending.Add(1) >= depositBatch {
		b.mu.Lock()
		b.flushLocked(b.advance())
		b.mu.Unlock()
	}
}

// flushLocked places the pending deposits in slot i. b.mu is held.
func (b *Budget) flushLocked(i int) {
	if n := b.pending.Swap(0); n > 0 {
		b.win.add(i, n, 0)
	}
}

// TryRetry withdraws one retry and reports whether the budget allowed it. A
// retry, a hedge and a fallback to another target must win TryRetry before
// they are sent, but for a router's fallback on credit (see Spend).
func (b *Budget) TryRetry() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := b.advance()
	b.flushLocked(i)
	if float64(b.win.sumB)+1 > b.floor+b.ratio*float64(b.win.sumA) {
		return false
	}
	b.win.add(i, 0, 1)
	return true
}

// Refund gives back a retry TryRetry allowed for an attempt that was then
// refused before anything was sent (a full bulkhead, a breaker that opened
// since the target was picked), so that only attempts that were made spend
// the budget.
func (b *Budget) Refund() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.win.sumB > 0 {
		b.win.add(b.advance(), 0, -1)
	}
}

// Spend withdraws one retry without asking: for an attempt a layer sent
// without TryRetry (a router's fallback to a target with a fresh success,
// which then failed), so that the budget still counts every retry made and
// refuses the next ones sooner.
func (b *Budget) Spend() {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := b.advance()
	b.flushLocked(i)
	b.win.add(i, 0, 1)
}

// Available returns how many retries the budget would allow now, for
// metrics.
func (b *Budget) Available() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked(b.advance())
	n := b.floor + b.ratio*float64(b.win.sumA) - float64(b.win.sumB)
	if n < 0 {
		return 0
	}
	return int(n)
}
