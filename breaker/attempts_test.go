package breaker_test

import (
	"context"
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

// Attempts have one owner: the attempt boundary in front of each Provider
// (gateway.Chain puts one at the bottom of a chain, a router one in front of
// each target). Retry and Hedge only repeat the chain inside them and never
// record; these tests count the attempts they make through that boundary.

// routerCall sends one chat call for model "m" through client mode over rt,
// reads and closes the response, and returns its status and the Call.
func routerCall(t *testing.T, rt http.RoundTripper) (int, *gateway.Call) {
	t.Helper()
	resp, call, err := do(context.Background(), rt, false)
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
	dead := must(gatewaytest.NewSim("dead", gatewaytest.SimConfig{Clock: clk, Seed: 1,
		Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{503}}}))
	live := must(gatewaytest.NewSim("live", gatewaytest.SimConfig{Clock: clk}))
	r, err := router.New("router", []router.Target{
		{Provider: dead, Weight: 1, ModelMap: map[string]string{"m": "dead-m"}},
		{Provider: live, Weight: 1, Tier: 1, ModelMap: map[string]string{"m": "live-m"}},
	}, router.Config{Clock: clk})
	require.NoError(t, err)
	rt := gateway.Chain(r, must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: clk})))

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

// Over a Provider built with gateway.Chain, every attempt Retry makes is
// recorded once, by the boundary: in order, numbered, with the target, the
// model sent and the status. A response with an error status is a status,
// not an error: its Err is empty.
func TestRetryAttemptsAreRecordedAtTheBoundary(t *testing.T) {
	p := statuses("sim-a", 500, 503, 200)
	rt := gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: newClock()})))
	status, call := routerCall(t, rt)
	require.Equal(t, http.StatusOK, status)
	got := call.Attempts()
	require.Len(t, got, 3)
	for i, want := range []int{500, 503, 200} {
		assert.Equal(t, i+1, got[i].N)
		assert.Equal(t, "sim-a", got[i].Target)
		assert.Equal(t, "m", got[i].Model)
		assert.Equal(t, want, got[i].Status)
		assert.Empty(t, got[i].Err, "attempt %d", i+1)
	}
	assert.EqualValues(t, 3, p.calls.Load())
	target, model := call.Served()
	assert.Equal(t, "sim-a", target)
	assert.Equal(t, "m", model)
}

// The per-target middlewares sit above the boundary too: every attempt that
// reached the provider is recorded, and a refusal before anything was sent
// (the open breaker's) is not an attempt.
func TestRetryOverPerTargetMiddlewaresRecordsNoRefusal(t *testing.T) {
	clk := newClock()
	p := statuses("sim-b", 500, 500, 200)
	cb := must(breaker.NewCircuitBreaker("b", breaker.Config{FailureThreshold: 2, HalfOpenProbes: 1, Delay: time.Second, Clock: clk}))
	rt := gateway.Chain(p,
		must(breaker.Retry(breaker.RetryConfig{MaxAttempts: 3, Rand: noJitter, Clock: clk, Deadline: time.Millisecond})),
		cb.Middleware(),
		must(breaker.Timeouts(breaker.TimeoutConfig{Clock: clk})))
	_, call, err := do(context.Background(), rt, false)
	require.ErrorIs(t, err, breaker.ErrOpen, "attempt 3 refused by the open breaker")
	got := call.Attempts()
	require.Len(t, got, 2, "the refusal is not an attempt")
	for i := range got {
		assert.Equal(t, i+1, got[i].N)
		assert.Equal(t, "sim-b", got[i].Target)
		assert.Equal(t, 500, got[i].Status)
	}
	assert.EqualValues(t, 2, p.calls.Load())
	target, model := call.Served()
	assert.Empty(t, target, "no attempt succeeded")
	assert.Empty(t, model)
}

// Retry itself never records: a hand-built Retry(provider), with no boundary
// under it, records nothing however many attempts it makes.
func TestHandBuiltRetryRecordsNoAttempt(t *testing.T) {
	p := statuses("sim-c", 500, 200)
	rt := must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: newClock()}))(p)
	status, call := routerCall(t, rt)
	require.Equal(t, http.StatusOK, status)
	assert.Empty(t, call.Attempts())
	assert.EqualValues(t, 2, p.calls.Load())

	// Nor does Hedge.
	p2 := statuses("sim-d", 200)
	status, call = routerCall(t, must(breaker.Hedge(breaker.HedgeConfig{Clock: newClock()}))(p2))
	require.Equal(t, http.StatusOK, status)
	assert.Empty(t, call.Attempts())
	assert.EqualValues(t, 1, p2.calls.Load())
}

// loggingMiddleware is any middleware an application puts between Retry and
// its provider: it logs each round trip and passes it on.
type loggingMiddleware struct {
	mu    sync.Mutex
	lines []string
}

func (l *loggingMiddleware) mw(next http.RoundTripper) http.RoundTripper {
	return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		line := req.Method + " " + req.URL.Path + " -> "
		if err != nil {
			line += err.Error()
		} else {
			line += http.StatusText(resp.StatusCode)
		}
		l.mu.Lock()
		l.lines = append(l.lines, line)
		l.mu.Unlock()
		return resp, err
	})
}

func (l *loggingMiddleware) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

// Regression (the bug the one-owner rule fixes): with a middleware between
// Retry and the provider, Chain(sim, Retry(…), logging) recorded 0 attempts,
// since Retry recorded only when its next was the Provider itself. The
// boundary sits under every middleware: the attempts stay exact and Served
// names the provider, whatever is stacked above it.
func TestAttemptsStayExactWithAMiddlewareBetweenRetryAndTheProvider(t *testing.T) {
	chains := []struct {
		name  string
		build func(p http.RoundTripper, log gateway.Middleware, clk gateway.Clock) http.RoundTripper
		logs  int // log lines: per attempt, and per call (a logger outside Retry)
		outer int
	}{
		{"Retry, logging", func(p http.RoundTripper, log gateway.Middleware, clk gateway.Clock) http.RoundTripper {
			return gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: clk})), log)
		}, 1, 0},
		{"logging, Retry, logging", func(p http.RoundTripper, log gateway.Middleware, clk gateway.Clock) http.RoundTripper {
			return gateway.Chain(p, log, must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: clk})), log)
		}, 1, 1},
		{"Retry, logging, breaker, Timeouts, logging", func(p http.RoundTripper, log gateway.Middleware, clk gateway.Clock) http.RoundTripper {
			cb := must(breaker.NewCircuitBreaker("sim", breaker.Config{Clock: clk}))
			return gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: clk})), log,
				cb.Middleware(), must(breaker.Timeouts(breaker.TimeoutConfig{Clock: clk})), log)
		}, 2, 0},
		{"Retry, Hedge, logging", func(p http.RoundTripper, log gateway.Middleware, clk gateway.Clock) http.RoundTripper {
			return gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: clk})),
				must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Hour, Clock: clk})), log)
		}, 1, 0},
	}
	for _, tc := range chains {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			p := statuses("sim", 500, 503, 200)
			log := &loggingMiddleware{}
			status, call := routerCall(t, tc.build(p, log.mw, clk))
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, []int{500, 503, 200}, attemptStatuses(call))
			for i, a := range call.Attempts() {
				assert.Equal(t, i+1, a.N)
				assert.Equal(t, "sim", a.Target)
				assert.Equal(t, "m", a.Model)
				assert.Empty(t, a.Err)
			}
			target, model := call.Served()
			assert.Equal(t, "sim", target)
			assert.Equal(t, "m", model)
			assert.EqualValues(t, 3, p.calls.Load())
			assert.Equal(t, 3*tc.logs+tc.outer, log.count(), "the middleware saw every attempt")
		})
	}

	// The same with the simulator, the configuration of the bug report.
	t.Run("Sim", func(t *testing.T) {
		sim := must(gatewaytest.NewSim("sim", gatewaytest.SimConfig{Seed: 1,
			Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{503}}}))
		log := &loggingMiddleware{}
		rt := gateway.Chain(sim, must(breaker.Retry(breaker.RetryConfig{MaxAttempts: 3, Rand: noJitter, Clock: newClock()})), log.mw)
		status, call := routerCall(t, rt)
		assert.Equal(t, http.StatusServiceUnavailable, status)
		assert.Equal(t, []int{503, 503, 503}, attemptStatuses(call))
		target, _ := call.Served()
		assert.Empty(t, target, "no attempt succeeded")

		require.NoError(t, sim.SetFaults(gatewaytest.Faults{}))
		for _, stream := range []bool{false, true} {
			resp, call, err := do(context.Background(), rt, stream)
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			resp.Body.Close()
			if stream {
				assert.True(t, strings.HasSuffix(string(b), "data: [DONE]\n\n"))
			} else {
				assert.Contains(t, string(b), sim.ReplyText(0))
			}
			assert.Equal(t, []int{200}, attemptStatuses(call), "stream %v", stream)
			target, model := call.Served()
			assert.Equal(t, "sim", target)
			assert.Equal(t, "m", model)
		}
		assert.EqualValues(t, 5, sim.Requests())
		assert.Equal(t, 5, log.count())
	})
}

// The same bug in Hedge: over a router, Hedge appended {Target: "router"}
// after the router's own attempt.
func TestHedgeOverRouterRecordsNoFalseAttempt(t *testing.T) {
	clk := newClock()
	live := must(gatewaytest.NewSim("live", gatewaytest.SimConfig{Clock: clk}))
	r, err := router.New("router", []router.Target{
		{Provider: live, Weight: 1, ModelMap: map[string]string{"m": "live-m"}},
	}, router.Config{Clock: clk})
	require.NoError(t, err)
	rt := gateway.Chain(r, must(breaker.Hedge(breaker.HedgeConfig{Clock: clk})))

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

// A model list is no attempt at a model: the boundary under Retry records
// none for it.
func TestRetryRecordsNoAttemptForModelList(t *testing.T) {
	sim := must(gatewaytest.NewSim("sim", gatewaytest.SimConfig{Models: []string{"m"}}))
	var call *gateway.Call
	capture := func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
			call = gateway.CallFrom(r.Context())
			return next.RoundTrip(r)
		})
	}
	client := gateway.NewClient(gateway.Chain(sim, capture, must(breaker.Retry(breaker.RetryConfig{}))))
	resp, err := client.Get("http://gateway.invalid/v1/models")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.NotNil(t, call)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Empty(t, call.Attempts())
	assert.EqualValues(t, 1, sim.Requests())
}
