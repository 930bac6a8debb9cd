package metrics_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// family gathers reg and returns the samples of the family name, keyed by
// their labels ("a=x,b=y", sorted by name; empty values left out). A
// histogram's samples are its count (key + " count") and sum (" sum").
func family(t *testing.T, reg prometheus.Gatherer, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var l []string
			for _, lp := range m.GetLabel() {
				if lp.GetValue() != "" {
					l = append(l, lp.GetName()+"="+lp.GetValue())
				}
			}
			sort.Strings(l)
			k := strings.Join(l, ",")
			switch {
			case m.Counter != nil:
				out[k] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[k] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[k+" count"] = float64(m.GetHistogram().GetSampleCount())
				out[k+" sum"] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

// seriesCount is how many series reg exposes (a histogram's buckets, sum
// and count each one).
func seriesCount(t *testing.T, reg prometheus.Gatherer) int {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	n := 0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if h := m.GetHistogram(); h != nil {
				n += len(h.GetBucket()) + 3 // +Inf, sum, count
				continue
			}
			n++
		}
	}
	return n
}
