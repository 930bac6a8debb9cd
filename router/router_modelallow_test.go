package router_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
)

// Case 32 (litellm 41810, bifrost 4243): a key's model permission is
// checked on the model each target is actually sent, after its model map,
// not on the model asked. Target a renames the asked gpt-4.1 to a model the
// key may not use: it is refused before its provider sees it, costs it no
// breaker failure and no attempt, and the call falls back to b, whose model
// is allowed. When no target is allowed the caller gets the 403.
func TestRouterChecksTheModelEachTargetIsSent(t *testing.T) {
	a := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{Seed: 1})
	b := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{Seed: 2})
	cbA := must(breaker.NewCircuitBreaker("a", breaker.Config{FailureThreshold: 1, HalfOpenProbes: 1}))
	r := rtrRouter(t, []router.Target{
		{Provider: a, Weight: 1, Breaker: cbA, ModelMap: map[string]string{"gpt-4.1": "o1-pro"}},
		{Provider: b, Weight: 1, Tier: 1},
	}, router.Config{})
	rt := gateway.Chain(r, must(breaker.Retry(breaker.RetryConfig{Rand: func() float64 { return 0 }})))
	caller := gateway.Caller{KeyID: "k", Models: []string{"gpt-4*"}}
	ctx := gateway.WithCaller(context.Background(), caller)

	for i := range 5 {
		resp, _, call := rtrDoCtx(t, ctx, rt, rtrChatBody)
		require.NotNil(t, resp)
		require.Equal(t, http.StatusOK, resp.StatusCode, "call %d", i)
		assert.Equal(t, []string{"b"}, rtrTargets(call), "no attempt recorded on a")
	}
	assert.Zero(t, a.Requests(), "a's provider never saw the disallowed model")
	assert.Equal(t, breaker.Closed, cbA.State(), "a refusal is no breaker failure")
	p, err := cbA.Acquire()
	require.NoError(t, err, "nor did it hold a permit")
	p.Done(breaker.Canceled)

	// Nothing allowed anywhere: the refusal is the answer.
	deny := gateway.WithCaller(context.Background(), gateway.Caller{KeyID: "k", Models: []string{"claude-*"}})
	resp, body, call := rtrDoCtx(t, deny, rt, rtrChatBody)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Contains(t, string(body), `"code":"model_not_allowed"`)
	assert.True(t, errors.Is(gateway.ErrorFromResponse(resp), gateway.ErrModelNotAllowed))
	assert.Empty(t, call.Attempts())
	assert.Zero(t, a.Requests())
	assert.EqualValues(t, 5, b.Requests())
}
