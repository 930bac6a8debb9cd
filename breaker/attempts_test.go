package breaker_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
)

// routerCall sends one chat call for model "m" through client mode over rt
// and returns the response status and the call's Call.
func routerCall(t *testing.T, rt http.RoundTripper) (int, *gateway.Call) {
	t.Helper()
	var call *gateway.Call
	capture := gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		call = gateway.CallFrom(req.Context())
		return rt.RoundTrip(req)
	})
	resp, err := gateway.NewClient(capture).Post("http://gateway.invalid/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hello"}]}`))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.NotNil(t, call)
	return resp.StatusCode, call
}

// Regression: Retry recorded an attempt whenever its next was a
// gateway.Provider, and a router.Router is one, so Retry(router) appended
// {Target: "router", Model: <asked>, Status: 200} after the router's own
// attempt and Call.Served named the router and the asked model instead of
// the target and the model it was sent.
func TestRetryOverRouterRecordsNoFalseAttempt(t *testing.T) {
	clk := newClock()
	dead := gatewaytest.NewSim("dead", gatewaytest.SimConfig{Clock: clk, Seed: 1,
		Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{503}}})
	live := gatewaytest.NewSim("live", gatewaytest.SimConfig{Clock: clk})
	r, err := router.New("router", []router.Target{
		{Provider: dead, Weight: 1, ModelMap: map[string]string{"m": "dead-m"}},
		{Provider: live, Weight: 1, Tier: 1, ModelMap: map[string]string{"m": "live-m"}},
	}, router.Config{Clock: clk})
	require.NoError(t, err)
	rt := gateway.Chain(r, breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: clk}))

	status, call := routerCall(t, rt)
	require.Equal(t, http.StatusOK, status)
	var got []string
	for _, a := range call.Attempts() {
		got = append(got, a.Target+"/"+a.Model)
	}
	assert.Equal(t, []string{"dead/dead-m", "live/live-m"}, got, "the router's attempts and nothing else")
	target, model := call.Served()
	assert.Equal(t, "live", target)
	assert.Equal(t, "live-m", model)
}

// Over a bare Provider nothing records inside, so Retry still records one
// attempt per attempt it makes.
func TestRetryOverProviderStillRecords(t *testing.T) {
	clk := newClock()
	p := statuses("a", 503, 200)
	rt := gateway.Chain(p, breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: clk}))
	status, call := routerCall(t, rt)
	require.Equal(t, http.StatusOK, status)
	var got []int
	for _, a := range call.Attempts() {
		assert.Equal(t, "a", a.Target)
		got = append(got, a.Status)
	}
	assert.Equal(t, []int{503, 200}, got)
}

// The same bug in Hedge: over a router, Hedge appended {Target: "router"}
// after the router's own attempt.
func TestHedgeOverRouterRecordsNoFalseAttempt(t *testing.T) {
	clk := newClock()
	live := gatewaytest.NewSim("live", gatewaytest.SimConfig{Clock: clk})
	r, err := router.New("router", []router.Target{
		{Provider: live, Weight: 1, ModelMap: map[string]string{"m": "live-m"}},
	}, router.Config{Clock: clk})
	require.NoError(t, err)
	rt := gateway.Chain(r, breaker.Hedge(breaker.HedgeConfig{Clock: clk}))

	status, call := routerCall(t, rt)
	require.Equal(t, http.StatusOK, status)
	var got []string
	for _, a := range call.Attempts() {
		got = append(got, a.Target+"/"+a.Model)
	}
	assert.Equal(t, []string{"live/live-m"}, got)
	target, model := call.Served()
	assert.Equal(t, "live", target)
	assert.Equal(t, "live-m", model)
}

// A model list is no attempt at a model: Retry over a provider records none
// for it, as the entry point does not.
func TestRetryRecordsNoAttemptForModelList(t *testing.T) {
	sim := gatewaytest.NewSim("sim", gatewaytest.SimConfig{Models: []string{"m"}})
	var call *gateway.Call
	capture := func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
			call = gateway.CallFrom(r.Context())
			return next.RoundTrip(r)
		})
	}
	client := gateway.NewClient(gateway.Chain(sim, capture, breaker.Retry(breaker.RetryConfig{})))
	resp, err := client.Get("http://gateway.invalid/v1/models")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.NotNil(t, call)
	assert.Empty(t, call.Attempts())
}
