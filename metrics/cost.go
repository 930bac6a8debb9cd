package metrics

import (
	"github.com/llmgate/gateway/billing"
)

// CostRecorder returns a billing.Recorder that adds each record's cost to
// llmgate_cost_usd_total (by target, model and, with Config.Tenants,
// tenant), counts a record whose model had no price in
// llmgate_cost_unknown_records_total, and hands the record on to next.
// Put it between the Meter and its Pipeline:
//
//	meter, err := billing.NewMeter(m.CostRecorder(pipeline), billing.MeterConfig{})
//
// The cost is the Meter's (billing.Price.Cost, in nano-dollars): this only
// reads it. The model label is the model the attempt sent, folded as
// Config.Models says.
func (m *Metrics) CostRecorder(next billing.Recorder) billing.Recorder {
	if next == nil {
		panic("metrics: CostRecorder over a nil Recorder")
	}
	return &costRecorder{m: m, next: next}
}

type costRecorder struct {
	m    *Metrics
	next billing.Recorder
}

func (r *costRecorder) Enqueue(rec billing.Record) error {
	r.m.countCost(&rec)
	return r.next.Enqueue(rec)
}

func (m *Metrics) countCost(r *billing.Record) {
	names := m.models.Load()
	t, model := m.targets.index(r.Target), names.index(r.ModelServed)
	if !r.CostKnown {
		names.series.get(key(kCost, t, model, 0, 1, 0), func() series {
			return series{ctr: m.unpricedCost.WithLabelValues(m.targets.label(t), names.labels[model])}
		}).ctr.Inc()
		return
	}
	if r.Cost <= 0 {
		return
	}
	tenant := idxEmpty
	if m.tenants != nil {
		tenant = fixedIndex(m.tenants, r.Tenant)
	}
	names.series.get(key(kCost, t, model, tenant, 0, 0), func() series {
		l := []string{m.targets.label(t), names.labels[model]}
		if m.tenants != nil {
			l = append(l, m.tenantL[tenant])
		}
		return series{ctr: m.cost.WithLabelValues(l...)}
	}).ctr.Add(float64(r.Cost) / 1e9)
}
