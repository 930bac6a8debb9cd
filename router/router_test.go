package router_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
)

const (
	rtrChatBody   = `{"model":"gpt-4.1","messages":[{"role":"user","content":"Hello, router"}]}`
	rtrStreamBody = `{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"Hello, router"}]}`
	rtrChatURL    = "http://gateway.invalid/v1/chat/completions"
)

var rtrEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// must returns v, and panics (failing the test binary) if err is not nil: for
// the constructors that return an error (breaker.NewCircuitBreaker,
// NewBudget, Retry…), always given valid configurations here. It takes no
// testing.TB so that it can wrap a call's two results directly.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func rtrRouter(t testing.TB, targets []router.Target, cfg router.Config) *router.Router {
	t.Helper()
	r, err := router.New("router", targets, cfg)
	require.NoError(t, err)
	return r
}

// rtrDo sends body through client mode over rt and returns the response
// (its body read into the returned bytes and closed) and the call's Call.
func rtrDo(t testing.TB, rt http.RoundTripper, body string) (*http.Response, []byte, *gateway.Call) {
	t.Helper()
	return rtrDoCtx(t, context.Background(), rt, body)
}

func rtrDoCtx(t testing.TB, ctx context.Context, rt http.RoundTripper, body string) (*http.Response, []byte, *gateway.Call) {
	t.Helper()
	var call *gateway.Call
	capture := gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		call = gateway.CallFrom(req.Context())
		return rt.RoundTrip(req)
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rtrChatURL, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := gateway.NewClient(capture).Do(req)
	if err != nil {
		return nil, nil, call
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b, call
}

// rtrTargets returns the attempts' targets, in order.
func rtrTargets(c *gateway.Call) []string {
	var out []string
	for _, a := range c.Attempts() {
		out = append(out, a.Target)
	}
	return out
}

func rtrDead(name string, status int) *gatewaytest.Sim {
	return gatewaytest.MustNewSim(name, gatewaytest.SimConfig{Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{status}}, Seed: 1})
}

func TestNewRouterRejectsBadConfig(t *testing.T) {
	sim := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{})
	ok := router.Target{Provider: sim, Weight: 1}
	cases := []struct {
		name    string
		targets []router.Target
		cfg     router.Config
	}{
		{"no targets", nil, router.Config{}},
		{"no provider", []router.Target{{Name: "x", Weight: 1}}, router.Config{}},
		{"zero weight", []router.Target{{Provider: sim}}, router.Config{}},
		{"negative weight", []router.Target{{Provider: sim, Weight: -1}}, router.Config{}},
		{"weight too large", []router.Target{{Provider: sim, Weight: router.MaxWeight + 1}}, router.Config{}},
		{"negative tier", []router.Target{{Provider: sim, Weight: 1, Tier: -1}}, router.Config{}},
		{"duplicate name", []router.Target{ok, ok}, router.Config{}},
		{"duplicate explicit name", []router.Target{{Name: "x", Provider: sim, Weight: 1}, {Name: "x", Provider: gatewaytest.MustNewSim("b", gatewaytest.SimConfig{}), Weight: 1}}, router.Config{}},
		{"empty model", []router.Target{{Provider: sim, Weight: 1, Models: []string{""}}}, router.Config{}},
		{"pattern as rename target", []router.Target{{Provider: sim, Weight: 1, ModelMap: map[string]string{"a": "b*"}}}, router.Config{}},
		{"nil middleware", []router.Target{{Provider: sim, Weight: 1, Middlewares: []gateway.Middleware{nil}}}, router.Config{}},
		{"negative first-token timeout", []router.Target{ok}, router.Config{FirstTokenTimeout: -time.Second}},
		{"negative hint floor", []router.Target{ok}, router.Config{HintFloor: -1}},
		{"unknown strategy", []router.Target{ok}, router.Config{Strategy: 9}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := router.New("router", c.targets, c.cfg)
			require.Error(t, err)
			assert.Nil(t, r)
			assert.ErrorIs(t, err, router.ErrConfig)
			assert.True(t, strings.HasPrefix(err.Error(), "router: "), err.Error())
		})
	}
	_, err := router.New("", []router.Target{ok}, router.Config{})
	assert.ErrorIs(t, err, router.ErrConfig)
}

func TestRouterModelsIsTheUnion(t *testing.T) {
	a := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{Models: []string{"gpt-4.1", "gpt-4o-mini"}})
	b := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{Models: []string{"claude-sonnet-4.5"}})
	anyModel := gatewaytest.MustNewSim("c", gatewaytest.SimConfig{})
	r := rtrRouter(t, []router.Target{
		{Provider: a, Weight: 1},
		{Provider: b, Weight: 1, ModelMap: map[string]string{"gpt-4.1": "claude-sonnet-4.5", "gpt-5*": "claude-opus-4"}},
		{Provider: anyModel, Weight: 1, Models: []string{"llama-*", "gpt-4o-mini"}},
	}, router.Config{})
	want := []string{"claude-sonnet-4.5", "gpt-4.1", "gpt-4o-mini"}
	assert.Equal(t, want, r.Models())
	assert.Equal(t, []string{"a", "b", "c"}, r.Targets())

	resp, err := gateway.NewClient(r).Get("http://gateway.invalid/v1/models")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var list struct {
		Object string `json:"object"`
		Data   []struct {
			ID     string `json:"id"`
			Object string `json:"object"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	assert.Equal(t, "list", list.Object)
	var ids []string
	for _, m := range list.Data {
		assert.Equal(t, "model", m.Object)
		ids = append(ids, m.ID)
	}
	assert.Equal(t, want, ids)
	assert.Zero(t, a.Requests()+b.Requests()+anyModel.Requests(), "the router answers /v1/models itself")
}

func TestRouterRoutesByModel(t *testing.T) {
	gpt := gatewaytest.MustNewSim("gpt", gatewaytest.SimConfig{Models: []string{"gpt-4.1"}})
	llama := gatewaytest.MustNewSim("llama", gatewaytest.SimConfig{})
	r := rtrRouter(t, []router.Target{
		{Provider: gpt, Weight: 1},
		{Provider: llama, Weight: 1, Models: []string{"llama-*"}},
	}, router.Config{})

	for range 4 {
		resp, _, call := rtrDo(t, r, rtrChatBody)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, []string{"gpt"}, rtrTargets(call))
	}
	resp, _, call := rtrDo(t, r, `{"model":"llama-3.3-70b","messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	target, model := call.Served()
	assert.Equal(t, "llama", target)
	assert.Equal(t, "llama-3.3-70b", model)

	resp, body, call := rtrDo(t, r, `{"model":"mistral-large","messages":[{"role":"user","content":"hi"}]}`)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Contains(t, string(body), `"model_not_found"`)
	assert.Empty(t, call.Attempts())
}

// A fallback to another model renames it in the body the target receives,
// and the Call records the model that served.
func TestRouterFallbackRenamesModel(t *testing.T) {
	primary := rtrDead("openai", 503)
	backup := gatewaytest.MustNewSim("anthropic", gatewaytest.SimConfig{Models: []string{"claude-sonnet-4.5"}})
	var sent []string
	record := func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			b, err := io.ReadAll(req.Body)
			require.NoError(t, err)
			var m struct{ Model string }
			require.NoError(t, json.Unmarshal(b, &m))
			sent = append(sent, m.Model)
			assert.Equal(t, m.Model, gateway.OutboundFrom(req.Context()).Model, "the target's Outbound names the model sent")
			assert.Equal(t, "gpt-4.1", gateway.CallFrom(req.Context()).Model, "the Call keeps the model asked")
			out, err := gateway.WithBody(req, b) // req.Body is read: send the same bytes on
			require.NoError(t, err)
			return next.RoundTrip(out)
		})
	}
	r := rtrRouter(t, []router.Target{
		{Provider: primary, Weight: 1, Models: []string{"gpt-4.1"}},
		{Provider: backup, Weight: 1, Tier: 1, ModelMap: map[string]string{"gpt-4.1": "claude-sonnet-4.5"},
			Middlewares: []gateway.Middleware{record}},
	}, router.Config{})

	resp, body, call := rtrDo(t, r, rtrChatBody)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Equal(t, []string{"claude-sonnet-4.5"}, sent)
	var out struct{ Model string }
	require.NoError(t, json.Unmarshal(body, &out))
	assert.Equal(t, "claude-sonnet-4.5", out.Model)

	target, model := call.Served()
	assert.Equal(t, "anthropic", target)
	assert.Equal(t, "claude-sonnet-4.5", model)
	assert.Equal(t, "gpt-4.1", call.Model, "the asked model is kept")
	as := call.Attempts()
	require.Len(t, as, 2)
	// A failed response's attempt has its Status and no Err (no class name).
	assert.Equal(t, gateway.Attempt{N: 1, Target: "openai", Model: "gpt-4.1", Status: 503,
		Start: as[0].Start, Latency: as[0].Latency}, as[0])
	assert.Equal(t, "anthropic", as[1].Target)
	assert.Equal(t, "claude-sonnet-4.5", as[1].Model, "the model sent")
	assert.Equal(t, 200, as[1].Status)
	assert.Empty(t, as[1].Err)
}

// A 400 is the request's fault: it is returned as it is, without fallback.
func TestRouterReturnsFatalAsIs(t *testing.T) {
	bad := rtrDead("a", 400)
	other := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{})
	r := rtrRouter(t, []router.Target{{Provider: bad, Weight: 1}, {Provider: other, Weight: 1, Tier: 1}}, router.Config{})
	resp, body, call := rtrDo(t, r, rtrChatBody)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, string(body), `"error"`)
	assert.Zero(t, other.Requests())
	assert.Equal(t, []string{"a"}, rtrTargets(call))
}

// 401/402/403 say the target's key is dead: that target is out for the call,
// and the next one serves it.
func TestRouterDeadKeyMovesOn(t *testing.T) {
	for _, status := range []int{401, 402, 403} {
		dead := rtrDead("a", status)
		good := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{})
		r := rtrRouter(t, []router.Target{{Provider: dead, Weight: 1}, {Provider: good, Weight: 1, Tier: 1}}, router.Config{})
		resp, _, call := rtrDo(t, r, rtrChatBody)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, []string{"a", "b"}, rtrTargets(call))
		assert.Equal(t, status, call.Attempts()[0].Status)
	}
}

// When every target fails, the last failure is returned as the upstream gave
// it; when none can be tried, ErrNoHealthyProvider with the soonest
// cooldown's end as Retry-After.
func TestRouterAllFailing(t *testing.T) {
	clk := gatewaytest.NewClock(rtrEpoch)
	limited := func(name string, after time.Duration) *gatewaytest.Sim {
		return gatewaytest.MustNewSim(name, gatewaytest.SimConfig{Clock: clk, Seed: 1,
			Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{429}, RetryAfter: after}})
	}
	a, b := limited("a", 7*time.Second), limited("b", 9*time.Second)
	r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1}, {Provider: b, Weight: 1}}, router.Config{Clock: clk})

	resp, body, call := rtrDo(t, r, rtrChatBody)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "9", resp.Header.Get("Retry-After"), "the last upstream answer, as it came")
	assert.Contains(t, string(body), "rate_limit")
	assert.Len(t, call.Attempts(), 2)

	resp, body, call = rtrDo(t, r, rtrChatBody)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Contains(t, string(body), `"no_healthy_provider"`)
	assert.Equal(t, "7", resp.Header.Get("Retry-After"), "the soonest cooldown end")
	assert.Empty(t, call.Attempts())
	assert.Equal(t, int64(1), a.Requests())
	assert.Equal(t, int64(1), b.Requests())
}

// The caller's cancellation is returned at once: no fallback, and the
// breaker counts nothing.
func TestRouterCallerCancelDoesNotFallBack(t *testing.T) {
	hang := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{Faults: gatewaytest.Faults{TimeoutRate: 1}, Seed: 1})
	other := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{})
	cb := must(breaker.NewCircuitBreaker("a", breaker.Config{FailureThreshold: 1}))
	reached := make(chan struct{})
	var once sync.Once
	signal := func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			once.Do(func() { close(reached) })
			return next.RoundTrip(req)
		})
	}
	r := rtrRouter(t, []router.Target{{Provider: hang, Weight: 1, Breaker: cb, Middlewares: []gateway.Middleware{signal}},
		{Provider: other, Weight: 1, Tier: 1}}, router.Config{})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select { // bounded: a call that never reaches a is cancelled anyway
		case <-reached:
		case <-time.After(10 * time.Second):
		}
		cancel()
	}()
	resp, _, call := rtrDoCtx(t, ctx, r, rtrChatBody)
	assert.Nil(t, resp)
	assert.Equal(t, int64(1), hang.Requests())
	assert.Zero(t, other.Requests())
	assert.Equal(t, breaker.Closed, cb.State())
	assert.True(t, cb.Ready(), "no cooldown either")
	as := call.Attempts()
	require.Len(t, as, 1)
	assert.Equal(t, "a", as[0].Target)
	assert.Zero(t, as[0].Status)
	assert.Equal(t, "client_closed", as[0].Err, "the code of the caller's cancellation")
	status, err := call.Result()
	assert.Equal(t, 499, status)
	assert.ErrorIs(t, err, gateway.ErrClientClosed)
}

// Used without an entry point (no Call in the context), the router refuses
// with a clear internal error, sends nothing, closes the body and leaves the
// request as it was. Through the entry point, a body that is not a call is
// refused there, before the router.
func TestRouterWithoutEntryPoint(t *testing.T) {
	sim := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{})
	r := rtrRouter(t, []router.Target{{Provider: sim, Weight: 1}}, router.Config{})
	body := &rtrCloseCounter{Reader: strings.NewReader(rtrChatBody)}
	req, err := http.NewRequest(http.MethodPost, rtrChatURL, body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	before := *req
	beforeHeader := req.Header.Clone()
	resp, err := r.RoundTrip(req)
	assert.Nil(t, resp)
	require.Error(t, err)
	assert.True(t, errors.Is(err, gateway.ErrInternal), "%v", err)
	assert.Contains(t, err.Error(), "gateway.NewClient", "the error says how to send requests")
	assert.Equal(t, 1, body.closed)
	assert.Zero(t, sim.Requests())
	assert.Equal(t, before.Body, req.Body)
	assert.Equal(t, before.URL, req.URL)
	assert.Equal(t, beforeHeader, req.Header)

	resp, respBody, call := rtrDo(t, r, `{"messages":[]}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, string(respBody), `"invalid_request"`)
	assert.Nil(t, call, "refused before the router")
	assert.Zero(t, sim.Requests())
}

type rtrCloseCounter struct {
	io.Reader
	closed int
}

func (c *rtrCloseCounter) Close() error { c.closed++; return nil }

// Responses of failed attempts that the router discards are closed.
func TestRouterClosesDiscardedBodies(t *testing.T) {
	var bodies []*rtrCloseCounter
	failing := rtrFunc("a", func(req *http.Request) (*http.Response, error) {
		b := &rtrCloseCounter{Reader: strings.NewReader(`{"error":{"message":"down"}}`)}
		bodies = append(bodies, b)
		return &http.Response{StatusCode: 500, Header: http.Header{}, Body: b, Request: req}, nil
	})
	good := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{})
	r := rtrRouter(t, []router.Target{{Provider: failing, Weight: 1}, {Provider: good, Weight: 1, Tier: 1}}, router.Config{})
	resp, _, _ := rtrDo(t, r, rtrChatBody)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, bodies, 1)
	assert.Equal(t, 1, bodies[0].closed)
}

// rtrProvider is a Provider made of a function, for faults a Sim lacks.
type rtrProvider struct {
	name string
	fn   func(*http.Request) (*http.Response, error)
}

func (p *rtrProvider) Name() string                                      { return p.name }
func (p *rtrProvider) RoundTrip(r *http.Request) (*http.Response, error) { return p.fn(r) }

func rtrFunc(name string, fn func(*http.Request) (*http.Response, error)) *rtrProvider {
	return &rtrProvider{name: name, fn: fn}
}

// Every invalid target is reported at once, so a configuration loader can
// point at all of them in one run; Target.Validate checks one alone.
func TestNewRouterReportsEveryBadTarget(t *testing.T) {
	sim := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{})
	targets := []router.Target{
		{Provider: sim, Weight: 1},
		{Provider: sim, Name: "b", Weight: 0},
		{Provider: sim, Name: "c", Weight: 1, Tier: -1, Models: []string{""}},
		{Provider: sim, Name: "b", Weight: 1},
	}
	_, err := router.New("r", targets, router.Config{})
	require.Error(t, err)
	assert.ErrorIs(t, err, router.ErrConfig)
	for _, want := range []string{`target "b" has weight 0`, `target "c" has negative tier`,
		`target "c" lists an empty model`, `duplicate target name "b"`} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NoError(t, targets[0].Validate())
	assert.ErrorIs(t, targets[1].Validate(), router.ErrConfig)
	err = targets[2].Validate()
	assert.Contains(t, err.Error(), "negative tier")
	assert.Contains(t, err.Error(), "empty model")
	assert.Error(t, router.Target{Weight: 1}.Validate(), "no Provider")
}

// Regression: a target whose Provider is already behind a boundary
// (gateway.Chain(p) is a Provider) got a second boundary in front of it:
// each upstream try was recorded twice.
func TestRouterTargetThatIsAChainRecordsOnce(t *testing.T) {
	sim := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{})
	chained, ok := gateway.Chain(sim).(gateway.Provider)
	require.True(t, ok)
	r := rtrRouter(t, []router.Target{{Provider: chained, Weight: 1}}, router.Config{})
	resp, _, call := rtrDo(t, r, rtrStreamBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"a"}, rtrTargets(call), "one attempt, under the chain's Provider")
}

// /v1/models lists only the models the caller's key may use
// (gateway.Caller.Allows), as OpenAI lists the models a key can reach,
// judged as the boundary judges a call: on the model a target is sent, after
// its model map. A caller without a model allowlist sees them all.
func TestRouterModelsListsWhatTheCallerMayUse(t *testing.T) {
	a := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{Models: []string{"gpt-4.1", "gpt-4o-mini", "o1"}})
	b := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{Models: []string{"gpt-4.5"}})
	r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1},
		{Provider: b, Weight: 1, ModelMap: map[string]string{"smart": "gpt-4.5"}}}, router.Config{})
	list := func(c gateway.Caller) []string {
		req, _ := http.NewRequestWithContext(gateway.WithCaller(context.Background(), c), http.MethodGet, "http://gateway.invalid/v1/models", nil)
		resp, err := gateway.NewClient(r).Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var body struct {
			Data []struct{ ID string } `json:"data"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		ids := []string{}
		for _, m := range body.Data {
			ids = append(ids, m.ID)
		}
		return ids
	}
	assert.Equal(t, []string{"gpt-4.1", "gpt-4.5", "gpt-4o-mini", "o1", "smart"}, list(gateway.Caller{KeyID: "all"}))
	assert.Equal(t, []string{"gpt-4.1", "gpt-4.5", "gpt-4o-mini", "smart"}, list(gateway.Caller{KeyID: "k", Models: []string{"gpt-4*"}}),
		"smart is sent as gpt-4.5")
	assert.Equal(t, []string{"o1"}, list(gateway.Caller{KeyID: "k", Models: []string{"o1", "smart", "claude-*"}}),
		"smart is sent as gpt-4.5, which the key may not use")
	assert.Equal(t, []string{}, list(gateway.Caller{KeyID: "k", Models: []string{"claude-*"}}))
}
