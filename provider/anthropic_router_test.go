package provider_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
)

// Regression: in a fleet that mixes vendors, a call whose operation one
// target does not serve (a Responses call on an Anthropic target) was that
// target's 404, returned without fallback, for every call the router sent
// there first (half of them at equal weights). Nothing was sent upstream:
// the router passes the target over, and answers the 404 only when no
// target serves the call.
func TestMixedFleetServesWhatOnlySomeTargetsServe(t *testing.T) {
	up, claude := newFakeAnthropic(t, gatewaytest.AnthropicConfig{})
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Seed: 1})
	post := func(rt *router.Router, path, body string) (int, string) {
		srv := httptest.NewServer(gateway.NewHandler(rt))
		defer srv.Close()
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	mixed, err := router.New("mixed", []router.Target{{Provider: claude, Weight: 1}, {Provider: sim, Weight: 1}}, router.Config{})
	require.NoError(t, err)
	for i := range 10 {
		status, body := post(mixed, "/v1/responses", `{"model":"m","input":"hi"}`)
		assert.Equal(t, http.StatusOK, status, "call %d: %s", i, body)
		status, body = post(mixed, "/v1/embeddings", `{"model":"m","input":"hi"}`)
		assert.Equal(t, http.StatusOK, status, "call %d: %s", i, body)
	}
	assert.Empty(t, up.Requests(), "nothing reached the Anthropic upstream")

	alone, err := router.New("alone", []router.Target{{Provider: claude, Weight: 1}}, router.Config{})
	require.NoError(t, err)
	status, body := post(alone, "/v1/responses", `{"model":"m","input":"hi"}`)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, body, "does not serve responses")
}
