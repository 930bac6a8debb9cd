package config

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
)

var healthEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// switchUpstream is an OpenAI-compatible upstream on a loopback socket that
// answers 500 to its model calls (failCalls) or to its model list
// (failModels, what a health probe asks) until told otherwise.
type switchUpstream struct {
	*gatewaytest.Server
	sim                   *gatewaytest.Sim
	failCalls, failModels atomic.Bool
	limited               atomic.Bool // model calls answer 429 with Retry-After: 3600
}

func newSwitchUpstream(t *testing.T, name string) *switchUpstream {
	t.Helper()
	u := &switchUpstream{sim: gatewaytest.MustNewSim(name, gatewaytest.SimConfig{Models: []string{"m"}, CompletionTokens: 1, Seed: 1})}
	u.Server = gatewaytest.NewServer(u)
	t.Cleanup(u.Close)
	return u
}

func (u *switchUpstream) Name() string { return u.sim.Name() }

func (u *switchUpstream) RoundTrip(req *http.Request) (*http.Response, error) {
	fail := u.failCalls.Load()
	if c := gateway.CallFrom(req.Context()); c != nil && c.Op == gateway.OpModels {
		fail = u.failModels.Load()
	}
	if u.limited.Load() && gateway.CallFrom(req.Context()).Op != gateway.OpModels {
		return &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Content-Type": {"application/json"}, "Retry-After": {"3600"}},
			Body: io.NopCloser(strings.NewReader(`{"error":{"message":"slow down","type":"rate_limit_error","code":null}}`)), Request: req}, nil
	}
	if fail {
		return &http.Response{StatusCode: http.StatusInternalServerError, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(`{"error":{"message":"down","type":"server_error","code":null}}`)), Request: req}, nil
	}
	return u.sim.RoundTrip(req)
}

// calls counts the model calls (not probes) the upstream received.
func (u *switchUpstream) calls() int {
	n := 0
	for _, r := range u.Requests() {
		if r.Path == "/v1/chat/completions" {
			n++
		}
	}
	return n
}

// twoOpenAI is two openai providers, a and b, on the upstreams given, both
// in tier 0, followed by extra.
func twoOpenAI(a, b *switchUpstream, extra string) string {
	return `providers:
  - {name: a, type: openai, base_url: ` + a.BaseURL() + `, api_key: sk-upstream-a, models: [m]}
  - {name: b, type: openai, base_url: ` + b.BaseURL() + `, api_key: sk-upstream-b, models: [m]}
retry: {max_attempts: 1}
hedge: {disable: true}
` + extra
}

// get sends a request to h and returns its status and body.
func get(h http.Handler, method, path string) (int, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code, rec.Body.String()
}

// errorCode is the OpenAI-shape error's code in body, "" when it is none.
func errorCode(t *testing.T, body string) (code, message string) {
	t.Helper()
	var e struct {
		Error struct{ Message, Type, Code string }
	}
	require.NoError(t, json.Unmarshal([]byte(body), &e), body)
	require.NotEmpty(t, e.Error.Type, body)
	return e.Error.Code, e.Error.Message
}

// /readyz is 503 naming the model once every target of it is open, and 200
// again once a target recovers: an open breaker's delay passing alone does
// not make the model servable for long, since the next call re-opens both.
// Time is the fake clock's: the breakers stay open until it moves.
func TestReadinessFlipsWhenEveryTargetOfAModelIsOpen(t *testing.T) {
	a, b := newSwitchUpstream(t, "a"), newSwitchUpstream(t, "b")
	clk := gatewaytest.NewClock(healthEpoch)
	brk := "breaker: {failure_threshold: 2, delay: 1h, half_open_probes: 1, success_threshold: 1}"
	g, base := reloadGateway(t, twoOpenAI(a, b, `health: {disable: true}
router:
  budget: {min_retries: 1000}
  targets:
    - {provider: a, `+brk+`}
    - {provider: b, `+brk+`}
`), Options{Clock: clk})
	client := &http.Client{Timeout: 30 * time.Second}
	readyz := func() (int, string) {
		clk.Advance(2 * time.Second) // past readiness's CacheFor: a fresh report
		return get(g.Handler(), http.MethodGet, "/readyz")
	}
	code, body := readyz()
	require.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"status":"ready"}`, body)

	a.failCalls.Store(true)
	b.failCalls.Store(true)
	bothOpen := func() bool {
		st := g.router.Status()
		return st[0].Breaker == breaker.Open && st[1].Breaker == breaker.Open
	}
	for i := 0; !bothOpen(); i++ {
		require.Less(t, i, 20, "the breakers never opened")
		code, _ := post(t, client, base)
		require.NotEqual(t, http.StatusOK, code)
	}
	code, body = readyz()
	require.Equal(t, http.StatusServiceUnavailable, code, body)
	ecode, msg := errorCode(t, body)
	assert.Equal(t, "not_ready", ecode)
	assert.Contains(t, msg, `no target can serve model "m"`)

	clk.Advance(time.Hour) // half-open: one probe each, and both fail
	code, _ = post(t, client, base)
	require.NotEqual(t, http.StatusOK, code)
	require.True(t, bothOpen(), "the probes failed: open again")
	code, _ = readyz()
	assert.Equal(t, http.StatusServiceUnavailable, code)

	a.failCalls.Store(false) // a recovers
	clk.Advance(time.Hour)
	for i := 0; g.router.Status()[0].Breaker != breaker.Closed; i++ {
		require.Less(t, i, 20, "a never closed")
		_, _ = post(t, client, base)
	}
	code, body = readyz()
	assert.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, breaker.Open, g.router.Status()[1].Breaker, "b still fails: a alone makes the model servable")
}

// stepProbes lets each of the n probed targets' probes run once on clk:
// with every probe loop asleep (n timers, no probe in flight to time out),
// it moves clk past the longest wait and returns once each target has
// recorded one more probe and its loop sleeps again. Real time only bounds
// the waits.
func stepProbes(t *testing.T, clk *gatewaytest.Clock, g *Gateway, n int) {
	t.Helper()
	counts := func() []uint64 {
		var out []uint64
		for _, s := range g.health.checker.Status() {
			out = append(out, s.Probes)
		}
		return out
	}
	before := counts()
	require.Len(t, before, n)
	clk.BlockUntil(n)
	clk.Advance(time.Minute) // every wait is under interval × (1 + jitter)
	deadline := time.Now().Add(10 * time.Second)
	for {
		now, done := counts(), true
		for i := range now {
			done = done && now[i] > before[i]
		}
		if done {
			break
		}
		require.True(t, time.Now().Before(deadline), "the probes never ran")
		time.Sleep(100 * time.Microsecond)
	}
	// Asleep again (a probe recorded has no timer left): each transition's
	// OnChange has returned.
	clk.BlockUntil(n)
}

// A target whose upstream's model list fails its probes is passed over
// before any call fails on it: no call reaches it, no attempt names it. The
// transition is logged once, with the target and no key, and counted; good
// probes bring it back.
func TestProbeFailingTargetIsPassedOverBeforeAnyCallFails(t *testing.T) {
	a, b := newSwitchUpstream(t, "a"), newSwitchUpstream(t, "b")
	a.failModels.Store(true)
	clk := gatewaytest.NewClock(healthEpoch)
	logs := newSyncBuffer()
	g, base := reloadGateway(t, twoOpenAI(a, b, "health: {interval: 10s, fail_after: 1, pass_after: 2}\n"),
		Options{Clock: clk, Logger: slog.New(slog.NewTextHandler(logs, nil))})

	stepProbes(t, clk, g, 2)
	require.Equal(t, HealthStats{Down: 1}, g.HealthStats())
	client := &http.Client{Timeout: 30 * time.Second}
	for range 10 {
		code, body := post(t, client, base)
		require.Equal(t, http.StatusOK, code, body)
	}
	assert.Zero(t, a.calls(), "no call reached the unhealthy target")
	assert.Equal(t, 10, b.calls())
	assert.NotContains(t, logs.String(), "attempts=a:", "no attempt against it")
	line := logs.String()
	assert.Contains(t, line, `level=WARN msg="health: target unhealthy; calls pass it over" target=a error=`)
	assert.Contains(t, line, "500")
	assert.NotContains(t, line, "sk-upstream", "no key in the log")
	code, _ := get(g.Handler(), http.MethodGet, "/readyz")
	assert.Equal(t, http.StatusOK, code, "b serves the model")

	a.failModels.Store(false)
	stepProbes(t, clk, g, 2)
	stepProbes(t, clk, g, 2)
	require.Equal(t, HealthStats{Down: 1, Up: 1}, g.HealthStats())
	assert.Contains(t, logs.String(), `level=INFO msg="health: target healthy again; it takes calls" target=a`)
	for i := 0; a.calls() == 0; i++ {
		require.Less(t, i, 10, "a never served again")
		code, _ := post(t, client, base)
		require.Equal(t, http.StatusOK, code)
	}
}

// A target its breaker cools down after a 429 with Retry-After gets no
// probe inside that window (the router sends it nothing there either), and
// stays healthy: the upstream answered.
func TestNoProbeInsideARetryAfterWindow(t *testing.T) {
	a, b := newSwitchUpstream(t, "a"), newSwitchUpstream(t, "b")
	clk := gatewaytest.NewClock(healthEpoch)
	g, base := reloadGateway(t, twoOpenAI(a, b, `health: {interval: 10s, fail_after: 1}
router:
  targets:
    - {provider: a, breaker: {max_retry_after: 2h}}
    - {provider: b, tier: 1}
`), Options{Clock: clk})
	probes := func(u *switchUpstream) int { return len(u.Requests()) - u.calls() }
	stepProbes(t, clk, g, 2)
	require.Equal(t, 1, probes(a), "probed while nothing holds it back")

	a.limited.Store(true)
	code, _ := post(t, &http.Client{Timeout: 30 * time.Second}, base)
	require.Equal(t, http.StatusOK, code, "b served it")
	require.Equal(t, 1, a.calls(), "a answered it 429 with Retry-After")
	for range 3 {
		stepProbes(t, clk, g, 2)
	}
	assert.Equal(t, 1, probes(a), "no probe inside the window")
	assert.Equal(t, 4, probes(b))
	assert.Equal(t, HealthStats{}, g.HealthStats(), "a cooling target is no unhealthy one")
}

// A reload that adds a target gets it probed (and passed over when its
// probes fail); one that removes it stops probing it.
func TestReloadProbesTheTargetsOfTheNewFile(t *testing.T) {
	a, b := newSwitchUpstream(t, "a"), newSwitchUpstream(t, "b")
	a.failModels.Store(true)
	clk := gatewaytest.NewClock(healthEpoch)
	health := "health: {interval: 10s, fail_after: 1}\n"
	only := func(p string) string {
		return twoOpenAI(a, b, health+"router:\n  targets:\n    - {provider: "+p+"}\n")
	}
	g, base := reloadGateway(t, only("b"), Options{Clock: clk})
	require.Len(t, g.health.checker.Status(), 1)

	require.NoError(t, reloadWith(t, g, twoOpenAI(a, b, health)))
	stepProbes(t, clk, g, 2)
	require.Equal(t, HealthStats{Down: 1}, g.HealthStats())
	client := &http.Client{Timeout: 30 * time.Second}
	for range 4 {
		code, _ := post(t, client, base)
		require.Equal(t, http.StatusOK, code)
	}
	assert.Zero(t, a.calls())

	require.NoError(t, reloadWith(t, g, only("b")))
	st := g.health.checker.Status()
	require.Len(t, st, 1)
	assert.Equal(t, "b", st[0].Name)
}

// The embedded default probes nothing (its sims cannot check themselves)
// and answers /healthz and /readyz without a key; other methods get a 405
// in the OpenAI shape, and other paths still need a key.
func TestEmbeddedProbesNeedNoKey(t *testing.T) {
	f, err := Parse(EmbeddedName, []byte(Embedded), env{}.lookup)
	require.NoError(t, err)
	g, err := Build(f, Options{})
	require.NoError(t, err)
	defer g.Close()
	assert.Empty(t, g.health.checker.Status(), "no target probed")
	for _, path := range []string{"/healthz", "/readyz"} {
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			code, _ := get(g.Handler(), m, path)
			assert.Equal(t, http.StatusOK, code, m+" "+path)
		}
		code, body := get(g.Handler(), http.MethodPost, path)
		require.Equal(t, http.StatusMethodNotAllowed, code, path)
		ecode, _ := errorCode(t, body)
		assert.Equal(t, "method_not_allowed", ecode)
	}
	code, body := get(g.Handler(), http.MethodGet, "/readyz")
	require.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"status":"ready"}`, body)
	code, _ = get(g.Handler(), http.MethodGet, "/v1/models")
	assert.Equal(t, http.StatusUnauthorized, code, "the API still needs a key")
	assert.Nil(t, g.AdminHandler(), "no admin listener by default")
}

// A health section with several mistakes reports each at its key, at once.
func TestHealthSectionReportsEveryMistake(t *testing.T) {
	f, err := Parse("h.yaml", []byte(`providers:
  - {name: a, type: sim}
health:
  interval: 0s
  jitter: 1.5
  timeout: -1s
  fail_after: 0
  pass_after: 5000
  every: 1s
admin:
  pprof: true
`), env{}.lookup)
	require.NoError(t, err)
	_, err = Build(f, Options{})
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		"h.yaml:4: health.interval: must be positive",
		"h.yaml:5: health.jitter: health: invalid configuration: Jitter 1.5 is not in [0, 1)",
		"h.yaml:6: health.timeout: must be positive",
		"h.yaml:7: health.fail_after: must be positive",
		"h.yaml:8: health.pass_after: health: invalid configuration: HealthyThreshold 5000 is not in 1..1000",
		"h.yaml:9: health.every: unknown key",
		"h.yaml:11: admin.pprof: needs admin.listen",
	} {
		assert.Contains(t, msg, want)
	}
	assert.Len(t, strings.Split(msg, "\n"), 7, msg)

	f, err = Parse("h.yaml", []byte("providers:\n  - {name: a, type: sim}\nhealth: {interval: 1s, timeout: 2s}\n"), env{}.lookup)
	require.NoError(t, err)
	_, err = Build(f, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "h.yaml:3: health.timeout: health: invalid configuration: Timeout 2s is longer than Interval 1s")
}

// Profiles are served on the admin listener only: /debug/pprof/ is 200
// there, and the gateway's own 404 on the main handler. The admin listener
// answers the probes too.
func TestPProfOnlyOnTheAdminListener(t *testing.T) {
	g, _ := reloadGateway(t, "providers:\n  - {name: a, type: sim, models: [m]}\nadmin: {listen: 127.0.0.1:0, pprof: true}\n", Options{})
	admin := g.AdminHandler()
	require.NotNil(t, admin)
	assert.Equal(t, "127.0.0.1:0", g.AdminListen())
	code, body := get(admin, http.MethodGet, "/debug/pprof/")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "goroutine")
	code, body = get(admin, http.MethodGet, "/debug/pprof/goroutine?debug=1")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "goroutine profile:")
	code, _ = get(admin, http.MethodGet, "/debug/pprof/heap")
	assert.Equal(t, http.StatusOK, code)
	for _, p := range []string{"/healthz", "/readyz"} {
		code, _ := get(admin, http.MethodGet, p)
		assert.Equal(t, http.StatusOK, code, p)
	}
	code, body = get(admin, http.MethodGet, "/v1/models")
	require.Equal(t, http.StatusNotFound, code)
	ecode, _ := errorCode(t, body)
	assert.Equal(t, "unknown_url", ecode)

	for _, p := range []string{"/debug/pprof/", "/debug/pprof/heap"} {
		code, body := get(g.Handler(), http.MethodGet, p)
		require.Equal(t, http.StatusNotFound, code, p)
		ecode, _ := errorCode(t, body)
		assert.Equal(t, "unknown_url", ecode, "the gateway's own 404")
	}

	off, _ := reloadGateway(t, "providers:\n  - {name: a, type: sim, models: [m]}\nadmin: {listen: 127.0.0.1:0}\n", Options{})
	code, _ = get(off.AdminHandler(), http.MethodGet, "/debug/pprof/")
	assert.Equal(t, http.StatusNotFound, code, "no profiles without admin.pprof")
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// A Redis the gateway needs and that does not answer makes /readyz 503,
// naming it by its key (never its address). Building needs no Redis up.
func TestReadyzNamesAFailingRedis(t *testing.T) {
	addr := closedPort(t)
	g, _ := reloadGateway(t, `providers:
  - {name: a, type: sim, models: [m]}
limits:
  redis: `+addr+`
  rules:
    - {name: shared, unit: requests, limit: 100, per: minute, shared: true}
`, Options{})
	code, body := get(g.Handler(), http.MethodGet, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code, body)
	ecode, msg := errorCode(t, body)
	assert.Equal(t, "not_ready", ecode)
	assert.Contains(t, msg, `check failed: "limits.redis"`)
	assert.NotContains(t, msg, addr)
	assert.NotContains(t, msg, "no target can serve", "the model is servable")
}

// The health and admin sections need a restart: Reload says so.
func TestHealthAndAdminNeedARestart(t *testing.T) {
	a, err := Parse("a.yaml", []byte("providers:\n  - {name: a, type: sim}\n"), env{}.lookup)
	require.NoError(t, err)
	b, err := Parse("b.yaml", []byte("providers:\n  - {name: a, type: sim}\nhealth: {interval: 5s}\nadmin: {listen: 127.0.0.1:6060}\n"), env{}.lookup)
	require.NoError(t, err)
	assert.Equal(t, []string{"health", "admin"}, RestartKeys(a, b))
}

// The health gauge of each probed target exists from the start (1: healthy
// until its checks say otherwise), follows its transitions, and goes, with
// its transition counts, when a reload removes the target.
func TestHealthSeriesFollowTheProbedTargets(t *testing.T) {
	a, b := newSwitchUpstream(t, "a"), newSwitchUpstream(t, "b")
	a.failModels.Store(true)
	clk := gatewaytest.NewClock(healthEpoch)
	health := "health: {interval: 10s, fail_after: 1}\n"
	only := func(p string) string {
		return twoOpenAI(a, b, health+"router:\n  targets:\n    - {provider: "+p+"}\n")
	}
	g, base := reloadGateway(t, only("b"), Options{Clock: clk})
	healthy := func() map[string]float64 {
		out := map[string]float64{}
		for _, s := range scrape(t, base+"/metrics")["llmgate_target_healthy"].samples {
			out[s.labels["target"]] = s.value
		}
		return out
	}
	assert.Equal(t, map[string]float64{"b": 1}, healthy(), "before any transition")

	require.NoError(t, reloadWith(t, g, twoOpenAI(a, b, health)))
	assert.Equal(t, map[string]float64{"a": 1, "b": 1}, healthy(), "a new target starts healthy")
	stepProbes(t, clk, g, 2)
	require.Equal(t, HealthStats{Down: 1}, g.HealthStats())
	assert.Equal(t, map[string]float64{"a": 0, "b": 1}, healthy())
	assert.Equal(t, 1.0, scrape(t, base+"/metrics")["llmgate_health_transitions_total"].sum("target", "a"))

	require.NoError(t, reloadWith(t, g, only("b")))
	assert.Equal(t, map[string]float64{"b": 1}, healthy(), "a removed target's gauge goes")
	assert.Zero(t, scrape(t, base+"/metrics")["llmgate_health_transitions_total"].sum("target", "a"), "and its transitions")
}
