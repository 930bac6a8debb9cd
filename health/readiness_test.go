package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/health"
	"github.com/llmgate/gateway/router"
)

// readyz asks h for /readyz and returns the status and the body.
func readyz(t *testing.T, h http.Handler) (int, string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	return w.Code, w.Body.String()
}

// openAIError decodes an OpenAI-shaped error body.
func openAIError(t *testing.T, body string) (msg, typ, code string) {
	t.Helper()
	var e struct {
		Error struct{ Message, Type, Code string }
	}
	require.NoError(t, json.Unmarshal([]byte(body), &e), body)
	return e.Error.Message, e.Error.Type, e.Error.Code
}

// Readiness fails when every target of a model has its breaker open (tripped
// by 500s from gatewaytest upstreams), in the OpenAI error shape naming the
// model, and is back once one target recovers (on the fake clock).
func TestReadinessFlipsWhenEveryTargetOfAModelIsOpen(t *testing.T) {
	clk := gatewaytest.NewClock(epoch)
	_, simA, a := upstream(t, "a")
	_, simB, b := upstream(t, "b")
	r, err := router.New("llm", []router.Target{{Provider: a, Weight: 1}, {Provider: b, Weight: 1}}, router.Config{Clock: clk})
	require.NoError(t, err)
	ready, err := health.NewReadiness(r, health.ReadinessConfig{Clock: clk})
	require.NoError(t, err)

	code, body := readyz(t, ready)
	require.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"status":"ready"}`, body)

	down := gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{500}}
	require.NoError(t, simA.SetFaults(down))
	require.NoError(t, simB.SetFaults(down))
	bothOpen := func() bool {
		st := r.Status()
		return st[0].Breaker == breaker.Open && st[1].Breaker == breaker.Open
	}
	for i := 0; i < 100 && !bothOpen(); i++ {
		status, _ := call(t, r)
		require.NotEqual(t, http.StatusOK, status)
	}
	require.True(t, bothOpen(), "the breakers opened within 100 calls")

	code, body = readyz(t, ready)
	assert.Equal(t, http.StatusOK, code, "the report is kept for CacheFor")
	clk.Advance(health.DefaultCacheFor)
	code, body = readyz(t, ready)
	require.Equal(t, http.StatusServiceUnavailable, code)
	msg, typ, errCode := openAIError(t, body)
	assert.Equal(t, "service_unavailable", typ)
	assert.Equal(t, "not_ready", errCode)
	assert.Equal(t, `health: not ready; no target can serve model "gpt-4.1"`, msg)
	assert.NotContains(t, body, upstreamKey)

	// a recovers; once its breaker's delay passes, its probes close it,
	// and b, still failing, opens again.
	require.NoError(t, simA.SetFaults(gatewaytest.Faults{}))
	clk.Advance(breaker.DefaultDelay)
	for i := 0; i < 20 && r.Status()[0].Breaker != breaker.Closed; i++ {
		call(t, r)
	}
	st := r.Status()
	require.Equal(t, breaker.Closed, st[0].Breaker)
	require.Equal(t, breaker.Open, st[1].Breaker)
	clk.Advance(health.DefaultCacheFor)
	code, body = readyz(t, ready)
	assert.Equal(t, http.StatusOK, code, body)
	assert.True(t, ready.Report(t.Context()).Ready)
}

// A target failing its health check cannot serve for readiness, even with
// its breaker closed.
func TestReadinessCountsAFailingHealthCheck(t *testing.T) {
	clk := gatewaytest.NewClock(epoch)
	var ok atomic.Bool
	r, err := router.New("llm", []router.Target{{Provider: gatewaytest.MustNewSim("s", gatewaytest.SimConfig{Models: []string{"m1", "m2"}}),
		Weight: 1, Healthy: ok.Load}}, router.Config{Clock: clk})
	require.NoError(t, err)
	ready, err := health.NewReadiness(r, health.ReadinessConfig{Models: []string{"m2", "m1"}, Clock: clk})
	require.NoError(t, err)
	rep := ready.Report(t.Context())
	assert.Equal(t, health.Report{Unservable: []string{"m2", "m1"}}, rep, "in configuration order")
	ok.Store(true)
	clk.Advance(health.DefaultCacheFor)
	assert.Equal(t, health.Report{Ready: true}, ready.Report(t.Context()))
}

// With no model to name (every target serves any model), some target must
// be able to serve at all.
func TestReadinessWithoutModelsNeedsSomeTarget(t *testing.T) {
	clk := gatewaytest.NewClock(epoch)
	var ok atomic.Bool
	r, err := router.New("llm", []router.Target{{Provider: gatewaytest.MustNewSim("s", gatewaytest.SimConfig{}), Weight: 1, Healthy: ok.Load}},
		router.Config{Clock: clk})
	require.NoError(t, err)
	require.Empty(t, r.Models())
	ready, err := health.NewReadiness(r, health.ReadinessConfig{Clock: clk})
	require.NoError(t, err)
	assert.Equal(t, []string{"*"}, ready.Report(t.Context()).Unservable)
	ok.Store(true)
	clk.Advance(health.DefaultCacheFor)
	assert.True(t, ready.Report(t.Context()).Ready)
}

// A failing check is named in the answer, never its error's text; a check
// that does not answer within Timeout fails with ErrCheckTimeout.
func TestReadinessChecks(t *testing.T) {
	clk := gatewaytest.NewClock(epoch)
	secret := errors.New("dial tcp redis.internal:6379: password sk-redis-secret refused")
	started := make(chan struct{}, 3)
	ready, err := health.NewReadiness(nil, health.ReadinessConfig{Clock: clk, Timeout: time.Second, Checks: []health.Check{
		{Name: "keys", Fn: func(context.Context) error { started <- struct{}{}; return nil }},
		{Name: "redis", Fn: func(context.Context) error { started <- struct{}{}; return secret }},
		{Name: "postgres", Fn: func(ctx context.Context) error { started <- struct{}{}; <-ctx.Done(); return ctx.Err() }},
	}})
	require.NoError(t, err)

	done := make(chan health.Report, 1)
	go func() { done <- ready.Report(context.Background()) }()
	for range 3 {
		<-started
	}
	waitFor(t, func() bool { return clk.Timers() == 1 }) // the quick checks are done: postgres's timeout is left
	clk.Advance(time.Second)
	rep := <-done
	assert.False(t, rep.Ready)
	require.Len(t, rep.Failed, 2)
	assert.Equal(t, "redis", rep.Failed[0].Name)
	assert.Same(t, secret, rep.Failed[0].Err)
	assert.Equal(t, "postgres", rep.Failed[1].Name)
	assert.ErrorIs(t, rep.Failed[1].Err, health.ErrCheckTimeout)

	code, body := readyz(t, ready) // the report kept
	require.Equal(t, http.StatusServiceUnavailable, code)
	msg, _, _ := openAIError(t, body)
	assert.Equal(t, `health: not ready; check failed: "redis", "postgres"`, msg)
	assert.NotContains(t, body, "sk-redis-secret")
	assert.NotContains(t, body, "redis.internal")
}

// However many ask at once, the checks run once per CacheFor: callers
// asking while a run is going share it.
func TestReadinessRunsChecksOncePerCacheFor(t *testing.T) {
	clk := gatewaytest.NewClock(epoch)
	var runs atomic.Int32
	release := make(chan struct{})
	ready, err := health.NewReadiness(nil, health.ReadinessConfig{Clock: clk, Checks: []health.Check{
		{Name: "slow", Fn: func(context.Context) error { runs.Add(1); <-release; return nil }},
	}})
	require.NoError(t, err)

	const n = 50
	var wg sync.WaitGroup
	reports := make(chan health.Report, n)
	for range n {
		wg.Go(func() { reports <- ready.Report(context.Background()) })
	}
	waitFor(t, func() bool { return runs.Load() == 1 })
	close(release)
	wg.Wait()
	close(reports)
	for rep := range reports {
		assert.True(t, rep.Ready)
	}
	assert.Equal(t, int32(1), runs.Load(), "one run for 50 callers")

	ready.Report(t.Context())
	assert.Equal(t, int32(1), runs.Load(), "kept for CacheFor")
	clk.Advance(health.DefaultCacheFor)
	ready.Report(t.Context())
	assert.Equal(t, int32(2), runs.Load(), "run again after CacheFor")
}

// A caller that leaves while another's run is going gets a report that is
// not ready, naming its context; the run goes on for the others.
func TestReadinessWaiterLeaving(t *testing.T) {
	release, started := make(chan struct{}), make(chan struct{})
	ready, err := health.NewReadiness(nil, health.ReadinessConfig{Checks: []health.Check{
		{Name: "slow", Fn: func(context.Context) error { close(started); <-release; return nil }},
	}})
	require.NoError(t, err)
	first := make(chan health.Report, 1)
	go func() { first <- ready.Report(context.Background()) }()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep := ready.Report(ctx)
	assert.False(t, rep.Ready)
	require.Len(t, rep.Failed, 1)
	assert.Equal(t, "context", rep.Failed[0].Name)
	assert.ErrorIs(t, rep.Failed[0].Err, context.Canceled)
	close(release)
	assert.True(t, (<-first).Ready)
}

func TestNewReadinessRejectsBadConfig(t *testing.T) {
	fn := func(context.Context) error { return nil }
	for name, cfg := range map[string]health.ReadinessConfig{
		"negative timeout": {Timeout: -1},
		"negative cache":   {CacheFor: -1},
		"unnamed check":    {Checks: []health.Check{{Fn: fn}}},
		"check without fn": {Checks: []health.Check{{Name: "x"}}},
		"duplicate check":  {Checks: []health.Check{{Name: "x", Fn: fn}, {Name: "x", Fn: fn}}},
		"too many models":  {Models: make([]string, health.MaxModels+1)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := health.NewReadiness(nil, cfg)
			assert.ErrorIs(t, err, health.ErrConfig)
		})
	}
}

// /healthz is 200 "ok" to GET and HEAD; both endpoints answer other
// methods 405 in the OpenAI shape, with Allow.
func TestHandlersAnswerGetAndHeadOnly(t *testing.T) {
	ready, err := health.NewReadiness(nil, health.ReadinessConfig{})
	require.NoError(t, err)
	for _, tc := range []struct {
		h      http.Handler
		method string
		status int
		body   string
	}{
		{health.Alive(), http.MethodGet, 200, "ok\n"},
		{health.Alive(), http.MethodHead, 200, ""},
		{ready, http.MethodHead, 200, ""},
		{health.Alive(), http.MethodPost, 405, ""},
		{ready, http.MethodDelete, 405, ""},
	} {
		w := httptest.NewRecorder()
		tc.h.ServeHTTP(w, httptest.NewRequest(tc.method, "/x", nil))
		resp := w.Result()
		assert.Equal(t, tc.status, resp.StatusCode, tc.method)
		if tc.status == 405 {
			assert.Equal(t, "GET, HEAD", resp.Header.Get("Allow"))
			_, _, code := openAIError(t, w.Body.String())
			assert.Equal(t, "method_not_allowed", code)
		} else if tc.method == http.MethodGet {
			assert.Equal(t, tc.body, w.Body.String())
		}
	}
}

// A not-ready answer maps back to its sentinel, and lists at most 16 names
// of each kind, each cut to 64 bytes.
func TestNotReadyAnswerIsBounded(t *testing.T) {
	models := make([]string, 40)
	for i := range models {
		models[i] = "model-" + strconv.Itoa(i)
	}
	models[0] = "x" + strings.Repeat("y", 500)
	r, err := router.New("llm", []router.Target{{Provider: gatewaytest.MustNewSim("s", gatewaytest.SimConfig{Models: []string{"only"}}), Weight: 1}}, router.Config{})
	require.NoError(t, err)
	ready, err := health.NewReadiness(r, health.ReadinessConfig{Models: models})
	require.NoError(t, err)
	w := httptest.NewRecorder()
	ready.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	resp := w.Result()
	assert.ErrorIs(t, gateway.ErrorFromResponse(resp), health.ErrNotReady)
	msg, _, _ := openAIError(t, w.Body.String())
	assert.Contains(t, msg, " and 24 more")
	assert.Less(t, len(msg), 16*80)
	assert.NotContains(t, msg, strings.Repeat("y", 65))
}

// Drain makes the next report not ready at once, though a ready one is
// cached, naming DrainingCheck; /readyz answers 503 saying so, and the
// checks are not run again for it.
func TestReadinessDrainIsNotReadyAtOnce(t *testing.T) {
	clk := gatewaytest.NewClock(epoch)
	var runs atomic.Int32
	ready, err := health.NewReadiness(nil, health.ReadinessConfig{Clock: clk, Checks: []health.Check{
		{Name: "store", Fn: func(context.Context) error { runs.Add(1); return nil }},
	}})
	require.NoError(t, err)
	require.True(t, ready.Report(t.Context()).Ready)

	ready.Drain()
	rep := ready.Report(t.Context())
	assert.False(t, rep.Ready, "not the cached ready report")
	require.Len(t, rep.Failed, 1)
	assert.Equal(t, health.DrainingCheck, rep.Failed[0].Name)
	assert.ErrorIs(t, rep.Failed[0].Err, health.ErrDraining)
	assert.Equal(t, int32(1), runs.Load(), "a drained readiness runs no check")

	w := httptest.NewRecorder()
	ready.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Contains(t, w.Body.String(), health.DrainingCheck)
	clk.Advance(time.Hour)
	assert.False(t, ready.Report(t.Context()).Ready, "for good")
}
