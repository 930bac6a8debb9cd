package health_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/health"
	"github.com/llmgate/gateway/provider"
	"github.com/llmgate/gateway/router"
)

const (
	upstreamKey = "sk-upstream-probe-key-0123456789"
	chatBody    = `{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}`
	chatURL     = "http://gateway.invalid/v1/chat/completions"
)

// upstream is a gatewaytest.Server over a Sim, with an OpenAI adapter
// pointed at it under name, closed with the test.
func upstream(t *testing.T, name string) (*gatewaytest.Server, *gatewaytest.Sim, *provider.OpenAI) {
	t.Helper()
	sim := gatewaytest.MustNewSim(name+"-sim", gatewaytest.SimConfig{Seed: 1})
	srv := gatewaytest.NewServer(sim)
	t.Cleanup(srv.Close)
	p, err := provider.NewOpenAI(provider.OpenAIConfig{Name: name, BaseURL: srv.BaseURL(), APIKey: upstreamKey,
		Models: []string{"gpt-4.1"}, Transport: srv.Client().Transport})
	require.NoError(t, err)
	t.Cleanup(p.CloseIdleConnections)
	return srv, sim, p
}

// call sends one chat call through client mode over rt and returns its
// status and the targets of its attempts.
func call(t *testing.T, rt http.RoundTripper) (int, []string) {
	t.Helper()
	var c *gateway.Call
	capture := gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		c = gateway.CallFrom(req.Context())
		return rt.RoundTrip(req)
	})
	resp, err := gateway.NewClient(capture).Post(chatURL, "application/json", strings.NewReader(chatBody))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	var targets []string
	for _, a := range c.Attempts() {
		targets = append(targets, a.Target)
	}
	return resp.StatusCode, targets
}

// A target whose probes fail is passed over by the router with no attempt
// and no request against it once N probes have failed, and gets calls
// again after M good probes. The probe is a GET of /v1/models with the
// upstream's key alone, and its error holds no key.
func TestUnhealthyByProbeTargetIsPassedOverAndProbedBackIn(t *testing.T) {
	clk := gatewaytest.NewClock(epoch)
	srv, _, primary := upstream(t, "primary")
	backup := gatewaytest.MustNewSim("backup", gatewaytest.SimConfig{})
	var ch changes
	cfg := health.Config{Interval: 10 * time.Second, Jitter: 0.1, Timeout: 5 * time.Second,
		UnhealthyThreshold: 2, HealthyThreshold: 3, Clock: clk, Seed: 2, OnChange: ch.on}
	c := newChecker(t, []health.Target{{Provider: primary}, {Provider: backup}}, cfg)
	r, err := router.New("llm", []router.Target{
		{Provider: primary, Weight: 1, Healthy: c.Healthy("primary")},
		{Provider: backup, Weight: 1, Tier: 1, Healthy: c.Healthy("backup")},
	}, router.Config{Clock: clk})
	require.NoError(t, err)

	step(t, clk, c, "primary", cfg)
	probe := srv.Requests()[len(srv.Requests())-1]
	assert.Equal(t, "GET /v1/models", probe.Method+" "+probe.Path)
	assert.Equal(t, "Bearer "+upstreamKey, probe.Header.Get("Authorization"))

	status, targets := call(t, r)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, []string{"primary"}, targets, "healthy: tier 0 serves")

	require.NoError(t, srv.SetFaults(gatewaytest.SocketFaults{ResetRate: 1}))
	step(t, clk, c, "primary", cfg)
	assert.True(t, c.Healthy("primary")(), "one failure is not N")
	step(t, clk, c, "primary", cfg)
	require.False(t, c.Healthy("primary")())

	sent := srv.Count()
	for range 10 {
		status, targets := call(t, r)
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, []string{"backup"}, targets, "no attempt against the unhealthy target")
	}
	assert.Equal(t, sent, srv.Count(), "no request reached it")
	assert.Equal(t, router.TargetStatus{Name: "primary", Breaker: breaker.Closed, Healthy: false, CanServe: false}, r.Status()[0],
		"its breaker counted nothing")

	require.NoError(t, srv.SetFaults(gatewaytest.SocketFaults{}))
	for i := range cfg.HealthyThreshold {
		assert.False(t, c.Healthy("primary")(), "before good probe %d", i+1)
		step(t, clk, c, "primary", cfg)
	}
	require.True(t, c.Healthy("primary")())
	status, targets = call(t, r)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, []string{"primary"}, targets, "probed back in")

	got := ch.list()
	require.Len(t, got, 2, "each transition told once")
	assert.Equal(t, "primary", got[0].target)
	assert.False(t, got[0].healthy)
	require.Error(t, got[0].err)
	assert.NotContains(t, got[0].err.Error(), upstreamKey)
	assert.Equal(t, change{"primary", true, nil}, got[1])
}
