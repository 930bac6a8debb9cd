package metrics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/metrics"
)

// A New refused by the Registerer (a name the embedder already uses) leaves
// nothing of its own registered: once the conflict is gone, New on the
// same registry succeeds, and the registry holds only what it held.
func TestNewRefusedLeavesTheRegistryAsItWas(t *testing.T) {
	reg := prometheus.NewRegistry()
	// A later collector of New's than the first: what came before it was
	// registered when it is refused.
	// (The same name, help and labels: a registry keeps the label names of
	// a name it once held, so this is the conflict a retry can get past.)
	theirs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmgate_config_reloads_total",
		Help: "Configuration reloads, by result (applied, rejected)."}, []string{"result"})
	theirs.WithLabelValues("applied").Inc()
	require.NoError(t, reg.Register(theirs))

	_, err := metrics.New(metrics.Config{Registerer: reg})
	require.Error(t, err)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		assert.Equal(t, "llmgate_config_reloads_total", mf.GetName(), "only the embedder's collector is registered")
	}

	require.True(t, reg.Unregister(theirs))
	_, err = metrics.New(metrics.Config{Registerer: reg})
	require.NoError(t, err, "New registers all of its collectors again")
}
