package gateway_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

func TestCallerAllows(t *testing.T) {
	cases := []struct {
		models []string
		model  string
		want   bool
	}{
		{nil, "anything", true},
		{[]string{"gpt-4o"}, "gpt-4o", true},
		{[]string{"gpt-4o"}, "gpt-4o-mini", false},
		{[]string{"gpt-4o*"}, "gpt-4o-mini", true},
		{[]string{"gpt-4o*"}, "gpt-4o", true},
		{[]string{"gpt-4o*"}, "gpt-4", false},
		{[]string{"*"}, "o1", true},
		{[]string{"claude-*", "gpt-4.1"}, "gpt-4.1", true},
		{[]string{"claude-*", "gpt-4.1"}, "GPT-4.1", false}, // names are exact
		{[]string{"gpt*4"}, "gpt-4", false},                 // only a trailing * is a wildcard
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, gateway.Caller{Models: tc.models}.Allows(tc.model), "%v allows %q", tc.models, tc.model)
	}
}

// The attempt boundary refuses an attempt at a model the caller may not
// use: 403 model_not_allowed, the provider never sees it, no attempt.
func TestBoundaryRefusesADisallowedModel(t *testing.T) {
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	var call *gateway.Call
	client := gateway.NewClient(gateway.Chain(sim, func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			call = gateway.CallFrom(req.Context())
			return next.RoundTrip(req)
		})
	}))
	ctx := gateway.WithCaller(context.Background(), gateway.Caller{KeyID: "k", Models: []string{"gpt-4o-mini"}})
	post := func(model string) (*http.Response, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://gateway.invalid/v1/chat/completions",
			strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	resp, body := post("gpt-4.1")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Contains(t, body, `"code":"model_not_allowed"`)
	assert.Contains(t, body, `gpt-4.1`)
	assert.True(t, errors.Is(gateway.ErrorFromResponse(resp), gateway.ErrModelNotAllowed))
	assert.Zero(t, sim.Requests())
	assert.Empty(t, call.Attempts())
	_, err := call.Result()
	assert.ErrorIs(t, err, gateway.ErrModelNotAllowed)

	resp, _ = post("gpt-4o-mini")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.EqualValues(t, 1, sim.Requests())
}
