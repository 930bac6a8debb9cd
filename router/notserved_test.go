package router_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
)

// A target whose Provider does not serve the call's operation refuses it
// before sending (an error deriving from gateway.ErrNotFound): the router
// moves on, and the call records no attempt for it, so no usage record or
// metric speaks of a request that was never made (a traced span says it
// was not sent: tracing's TestARefusedRoundTripsSpanIsNotSentAndNoError),
// and the attempt that does go out is the call's first. Before, the refusal was
// recorded as a failed attempt (unknown_url) and the real one as a
// fallback.
func TestATargetThatDoesNotServeTheOpRecordsNoAttempt(t *testing.T) {
	refuser := named{"no-chat", gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		return nil, gateway.ErrNotFound.WithMessage("fake: no chat completions here")
	})}
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	r := rtrRouter(t, []router.Target{{Provider: refuser, Weight: 1}, {Provider: sim, Weight: 1, Tier: 1}}, router.Config{})
	resp, _, call := rtrDo(t, r, rtrChatBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	as := call.Attempts()
	require.Len(t, as, 1, "%+v", as)
	assert.Equal(t, "sim", as[0].Target)
	assert.Equal(t, gateway.AttemptFirst, as[0].Kind)
}
