package billing

import (
	"errors"
)

// meterSnapshot is what a Meter prices and budgets with: immutable once
// made, swapped whole by Update, and read once per call, so that a call's
// hold, its records and its settlement all use one price table and one set
// of limits.
type meterSnapshot struct {
	prices *PriceTable
	budget BudgetConfig // its defaults applied; Store is the Meter's
}

// newMeterSnapshot is cfg, valid, with its defaults applied.
func newMeterSnapshot(cfg MeterConfig) *meterSnapshot {
	if cfg.Prices == nil {
		cfg.Prices = DefaultPrices()
	}
	return &meterSnapshot{prices: cfg.Prices, budget: cfg.Budget.withDefaults()}
}

// errUpdateOwnParts refuses an Update that names a store or a clock.
var errUpdateOwnParts = errors.New("billing: Meter.Update keeps the Meter's budget store and clock: leave Budget.Store and Clock nil")

// Update makes cfg's prices and budget settings (Prices, and Budget but for
// its Store) the Meter's, atomically, for the calls that enter it from now
// on; it returns cfg's errors, or an error when cfg sets Budget.Store or
// Clock, and then changes nothing. The budget store is fixed at NewMeter
// and kept, with every spend and hold in it: the Meter's own local store
// as much as a shared one (a different store, or another Redis, needs a
// new Meter).
//
// A call uses the settings in force when it entered the Meter, from its
// hold to its settlement: a call reserved before an Update is recorded at
// the old prices and settles that cost (its Record's Cost is the amount
// settled), while the next call holds, records and settles at the new ones.
// A budget's new limit applies at the next Reserve, against the spend its
// bucket already has: a tenant already past a lowered limit is refused,
// and admitted again when it is raised. A budget's bucket is named by its
// owner and period (Bucket.Name), so a changed period or time zone starts
// the new period's bucket with no spend.
//
// Update is safe for concurrent use, with itself and with calls.
func (m *Meter) Update(cfg MeterConfig) error {
	if cfg.Budget.Store != nil || cfg.Clock != nil {
		return errUpdateOwnParts
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	s := newMeterSnapshot(cfg)
	s.budget.Store = m.store
	m.cur.Store(s)
	return nil
}
