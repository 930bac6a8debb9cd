package metrics_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/metrics"
)

// /metrics after the known sequence is valid Prometheus text: the
// exposition parser reads every family, with its type.
func TestMetricsOutputIsParseable(t *testing.T) {
	f := newFixture(t, metrics.Config{Models: []string{"gpt-4.1"}})
	runSequence(t, f)
	w := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "text/plain")
	f.m.Handler().ServeHTTP(w, req)
	require.Equal(t, http.StatusOK, w.Code)
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(w.Body)
	require.NoError(t, err)
	assert.Equal(t, "HISTOGRAM", mfs["gen_ai_client_operation_duration_seconds"].GetType().String())
	assert.Equal(t, "COUNTER", mfs["llmgate_calls_total"].GetType().String())
	assert.Equal(t, "GAUGE", mfs["llmgate_breaker_state"].GetType().String())
}

// New registers on the Registerer it is given, never the global one, and
// a second Metrics on the same registry is refused, not merged.
func TestNewRegistersOnTheGivenRegistryOnly(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, err := metrics.New(metrics.Config{Registerer: reg})
	require.NoError(t, err)
	_, err = metrics.New(metrics.Config{Registerer: reg})
	var are prometheus.AlreadyRegisteredError
	assert.True(t, errors.As(err, &are), "got %v", err)

	mfs, err := prometheus.DefaultGatherer.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		assert.NotContains(t, mf.GetName(), "llmgate_")
	}
}

func TestConfigValidateReportsEveryError(t *testing.T) {
	err := metrics.Config{
		MaxTargets:      -1,
		Models:          []string{"a*b", "x", "x", "other"},
		Tenants:         []string{"t*"},
		DurationBuckets: []float64{1, 1},
	}.Validate()
	require.Error(t, err)
	for _, want := range []string{"MaxTargets", `"a*b"`, `"x" is listed twice`, `"other" is reserved`, `tenant "t*"`, "DurationBuckets"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NoError(t, metrics.Config{Models: []string{"gpt-4*", "gpt-4.1"}}.Validate())
}
