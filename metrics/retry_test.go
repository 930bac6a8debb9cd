package metrics_test

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/metrics"
)

// firstFails answers its first call from down (a 503), the rest from up;
// both are named alike, so the call retries the same target.
type firstFails struct {
	gateway.Provider
	down gateway.Provider
	n    atomic.Int32
}

func (p *firstFails) RoundTrip(req *http.Request) (*http.Response, error) {
	if p.n.Add(1) == 1 {
		return p.down.RoundTrip(req)
	}
	return p.Provider.RoundTrip(req)
}

// A second attempt at the same target after a 503 is a retry, not a
// fallback.
func TestRetryAtTheSameTargetIsCountedAsARetry(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(metrics.Config{Registerer: reg})
	require.NoError(t, err)
	p := &firstFails{
		Provider: gatewaytest.MustNewSim("openai", gatewaytest.SimConfig{}),
		down:     gatewaytest.MustNewSim("openai", gatewaytest.SimConfig{Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{503}}}),
	}
	retry, err := breaker.Retry(breaker.RetryConfig{BaseDelay: time.Microsecond, MaxDelay: time.Microsecond})
	require.NoError(t, err)
	client := gateway.NewClient(gateway.Chain(p, retry), gateway.WithObserver(m.Observe))
	resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json", strings.NewReader(chat("m", "")))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	assert.Equal(t, map[string]float64{"target=openai": 1}, family(t, reg, "llmgate_retries_total"))
	assert.Empty(t, family(t, reg, "llmgate_fallbacks_total"))
	assert.Empty(t, family(t, reg, "llmgate_hedges_total"))
	assert.Equal(t, map[string]float64{"outcome=ok,target=openai": 1, "outcome=503,target=openai": 1},
		family(t, reg, "llmgate_attempts_total"))
}
