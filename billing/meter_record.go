package billing

import (
	"context"
	"errors"

	"github.com/llmgate/gateway"
)

// finish records the call's attempts, priced at s (the snapshot the call
// held under), and settles its hold to their cost. It runs once, when the
// call has ended (hooks.OnEnd).
func (m *Meter) finish(s *meterSnapshot, c *gateway.Call, h *callHold) {
	// After this call's records and settlement: a store that hangs delays
	// neither.
	defer m.retrySettles(context.Background(), false)
	var arr [4]gateway.Attempt // most calls make one attempt, a few up to 4
	atts := c.AppendAttempts(arr[:0])
	usage, _ := c.Usage()
	_, result := c.Result()
	served := servedIndex(c, atts)
	var total int64
	unknown := false
	for i := range atts {
		a := &atts[i]
		r := Record{
			CallID: c.ID, Attempt: a.N, Time: a.Start,
			KeyID: c.Caller.KeyID, Tenant: c.Caller.Tenant,
			Target: a.Target, ModelAsked: c.Model, ModelServed: a.Model,
			Status: a.Status, Latency: a.Latency, TTFT: a.TTFT, Stream: c.Stream,
			Outcome: outcome(a, i == served, result),
		}
		price, priced := s.prices.Lookup(a.Target, a.Model)
		if i == served {
			r.Usage = usage
			if priced && !noOutput(c, usage) {
				r.Cost = price.Cost(usage)
			}
		} else {
			r.Usage = gateway.Usage{Estimated: a.Status/100 == 2}
		}
		r.CostKnown = priced
		if !priced {
			m.stats.unpriced.Add(1)
			unknown = unknown || i == served
		}
		total += r.Cost
		if err := m.rec.Enqueue(r); err != nil {
			m.stats.enqueueErrors.Add(1)
		} else {
			m.stats.records.Add(1)
		}
	}
	if h == nil {
		return
	}
	if unknown && h.priced {
		total = max(total, h.amount) // an unpriced served model: charge what was held
	}
	m.settle(s.budget.SettleTimeout, c.ID, h.buckets, total)
}

// servedIndex returns the index of the attempt whose response the caller
// got (Call.Served), or -1.
func servedIndex(c *gateway.Call, atts []gateway.Attempt) int {
	target, model := c.Served()
	if target == "" {
		return -1
	}
	for i := len(atts) - 1; i >= 0; i-- {
		a := &atts[i]
		if a.Status/100 == 2 && a.Err == "" && a.Target == target && a.Model == model {
			return i
		}
	}
	return -1
}

// noOutput reports a call that delivered nothing billable: no usage
// reported and no completion delivered. An embedding has no output to
// deliver, so it is never "no output".
func noOutput(c *gateway.Call, u gateway.Usage) bool {
	return u.Estimated && u.CompletionTokens == 0 && c.Op != gateway.OpEmbedding
}

// outcome is a record's Outcome: "ok", the attempt's error code, or, for the
// served attempt of a call that then failed (a stream cut, a caller who
// left), the call's error code.
func outcome(a *gateway.Attempt, served bool, result error) string {
	if served && result != nil {
		var ge *gateway.Error
		if errors.As(result, &ge) {
			return ge.Code
		}
		return "error"
	}
	if a.Err != "" {
		return a.Err
	}
	if a.Status/100 != 2 {
		return "upstream_error"
	}
	return "ok"
}
