package breaker

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmgate/gateway"
)

// BudgetConfig configures a Budget. The zero value is the default budget:
// retries up to 20% of requests, with a floor of 3 retries, over a sliding
// 10 s window.
type BudgetConfig struct {
	// Ratio is the share of requests that may be retried: each first
	// attempt deposits Ratio of a retry. Default 0.2. Must be in (0, 1].
	Ratio float64
	// MinRetries is the floor: retries always allowed per Window, however
	// little traffic there is, so a quiet service can still retry. Default
	// 3.
	MinRetries int
	// Window is how long a deposit or a withdrawal counts. Default 10 s.
	Window time.Duration
	// Clock is the source of time; nil means the system clock.
	Clock gateway.Clock
}

// Default budget parameters.
const (
	DefaultBudgetRatio      = 0.2
	DefaultBudgetMinRetries = 3
	DefaultBudgetWindow     = 10 * time.Second
)

// budgetSlots is how many slices a window is cut into: deposits and
// withdrawals leave the window one slice at a time.
const budgetSlots = 10

// Budget bounds retries to a share of traffic, in the manner of Finagle's
// RetryBudget: every call deposits Ratio of a retry (OnCall, once per call),
// every retry, hedge or fallback to another target withdraws a whole one
// (TryRetry), and both expire after Window. Over any window the retries
// allowed are at most MinRetries + Ratio × requests, so when everything
// fails, N calls make at most (1+Ratio)·N + MinRetries attempts however
// many retries each is configured for: a fleet-wide outage cannot multiply
// the load on the upstream.
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
	slot   time.Duration

	// pending counts deposits not yet placed in a slot: OnRequest places
	// them in batches, so that most calls neither lock nor read the clock
	// (a clock read costs more than the rest of a call's overhead).
	pending atomic.Int64

	mu    sync.Mutex
	epoch int64 // index of the newest slot, in slot units since origin
	dep   [budgetSlots]int64
	wd    [budgetSlots]int64
	sumD  int64 // deposits in the window
	sumW  int64 // withdrawals in the window
}

// NewBudget returns a Budget. It panics if cfg holds a negative or
// out-of-range value (a configuration error).
func NewBudget(cfg BudgetConfig) *Budget {
	if cfg.Ratio == 0 {
		cfg.Ratio = DefaultBudgetRatio
	}
	if cfg.MinRetries == 0 {
		cfg.MinRetries = DefaultBudgetMinRetries
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultBudgetWindow
	}
	if !(cfg.Ratio > 0 && cfg.Ratio <= 1) || cfg.MinRetries < 0 || cfg.Window < budgetSlots {
		panic(fmt.Sprintf("breaker: invalid BudgetConfig %+v", cfg))
	}
	clk := gateway.ClockOrSystem(cfg.Clock)
	return &Budget{
		ratio:  cfg.Ratio,
		floor:  float64(cfg.MinRetries),
		clock:  clk,
		origin: clk.Now(),
		slot:   cfg.Window / budgetSlots,
	}
}

// advance moves the window to now, expiring slots that left it. b.mu is held.
func (b *Budget) advance() int {
	e := int64(b.clock.Now().Sub(b.origin) / b.slot)
	if e > b.epoch {
		n := e - b.epoch
		if n > budgetSlots {
			n = budgetSlots
		}
		for i := int64(1); i <= n; i++ {
			j := (b.epoch + i) % budgetSlots
			b.sumD -= b.dep[j]
			b.sumW -= b.wd[j]
			b.dep[j], b.wd[j] = 0, 0
		}
		b.epoch = e
	}
	return int(b.epoch % budgetSlots)
}

// depositBatch is how many deposits OnRequest gathers before it places
// them. A deposit waits at most that many calls (or until the next
// TryRetry) to count, and then counts for a whole Window.
const depositBatch = 32

// OnCall deposits Ratio of a retry for call c, once however many layers
// sharing the Budget (Retry, Hedge, a router) call it for c: the first
// claim of b on c (gateway.Call.Once) deposits, later ones do nothing. A
// nil c is a call of its own and deposits. Layers credit a Budget through
// OnCall, so sharing one never credits a call twice.
func (b *Budget) OnCall(c *gateway.Call) {
	if c == nil || c.Once(b) {
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
		b.dep[i] += n
		b.sumD += n
	}
}

// TryRetry withdraws one retry and reports whether the budget allowed it. A
// retry, a hedge and a fallback to another target all must win TryRetry
// before they are sent.
func (b *Budget) TryRetry() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := b.advance()
	b.flushLocked(i)
	if float64(b.sumW)+1 > b.floor+b.ratio*float64(b.sumD) {
		return false
	}
	b.wd[i]++
	b.sumW++
	return true
}

// Available returns how many retries the budget would allow now, for
// metrics.
func (b *Budget) Available() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked(b.advance())
	n := b.floor + b.ratio*float64(b.sumD) - float64(b.sumW)
	if n < 0 {
		return 0
	}
	return int(n)
}
