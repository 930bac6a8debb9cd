package config

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scrape GETs base's metrics path and returns the families by name.
func scrape(t *testing.T, url string) map[string]*metricFamily {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	out := map[string]*metricFamily{}
	for name, f := range fams {
		mf := &metricFamily{}
		for _, m := range f.GetMetric() {
			s := sample{labels: map[string]string{}}
			for _, l := range m.GetLabel() {
				s.labels[l.GetName()] = l.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				s.value = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				s.value = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				s.value = float64(m.GetHistogram().GetSampleCount())
			}
			mf.samples = append(mf.samples, s)
		}
		out[name] = mf
	}
	return out
}

type sample struct {
	labels map[string]string
	value  float64 // a histogram's count
}

type metricFamily struct{ samples []sample }

// sum adds the samples whose labels include want (name=value pairs); a
// family not scraped sums to 0.
func (f *metricFamily) sum(want ...string) float64 {
	if f == nil {
		return 0
	}
	var total float64
next:
	for _, s := range f.samples {
		for i := 0; i+1 < len(want); i += 2 {
			if s.labels[want[i]] != want[i+1] {
				continue next
			}
		}
		total += s.value
	}
	return total
}

// has reports whether a sample has the labels want.
func (f *metricFamily) has(want ...string) bool {
	if f == nil {
		return false
	}
next:
	for _, s := range f.samples {
		for i := 0; i+1 < len(want); i += 2 {
			if s.labels[want[i]] != want[i+1] {
				continue next
			}
		}
		return true
	}
	return false
}

// The embedded default serves /metrics with no key (the API itself still
// wants one), GET and HEAD only, and a breaker series for each target.
func TestEmbeddedDefaultServesMetricsWithNoKey(t *testing.T) {
	g, base := reloadGateway(t, Embedded, Options{})
	require.NotNil(t, g.Metrics())
	fams := scrape(t, base+"/metrics")
	for _, target := range []string{"sim-a", "sim-b", "sim-backup"} {
		assert.Equal(t, 1.0, fams["llmgate_breaker_state"].sum("target", target, "state", "closed"), target)
	}
	assert.True(t, fams["llmgate_cache_entries"].has("cache", "keys"), "the key cache is watched")
	assert.True(t, fams["llmgate_limiter_admitted_total"] != nil, "the limiter is watched")
	assert.True(t, fams["llmgate_usage_pipeline_depth"] != nil, "the pipeline is watched")
	assert.True(t, fams["llmgate_billing_records_total"] != nil, "the meter is watched")

	resp, err := http.Head(base + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	resp, err = http.Post(base+"/metrics", "text/plain", nil)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Equal(t, "GET, HEAD", resp.Header.Get("Allow"))
	var e struct {
		Error struct{ Message, Type, Code string } `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &e), string(body))
	assert.Equal(t, "method_not_allowed", e.Error.Code)

	status, _ := post(t, http.DefaultClient, base) // the API: no key, refused
	assert.Equal(t, http.StatusUnauthorized, status)
}

// A call, a call the response cache answers, and their cost and usage
// record: the observer, the cost recorder, the Meter, the pipeline, the
// limiter and the response cache are all wired.
func TestMetricsSeeCallsCostAndEveryWatchedPart(t *testing.T) {
	_, base := reloadGateway(t, `
providers:
  - {name: a, type: sim, models: [gpt-4o-mini], sim: {reply: hi, completion_tokens: 3}}
response_cache: {enable: true}
limits:
  rules:
    - {name: all, unit: requests, limit: 100, per: hour}
`, Options{})
	for range 2 {
		resp, err := http.Post(base+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"same"}]}`))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	fams := scrape(t, base+"/metrics")
	assert.Equal(t, 1.0, fams["llmgate_calls_total"].sum("outcome", "ok", "status", "200"))
	assert.Equal(t, 1.0, fams["llmgate_calls_total"].sum("outcome", "cache_hit"))
	assert.Equal(t, 2.0, fams["gen_ai_client_operation_duration_seconds"].sum("gen_ai_request_model", "gpt-4o-mini"))
	assert.Equal(t, 1.0, fams["llmgate_response_cache_total"].sum("result", "hit"))
	assert.True(t, fams["llmgate_response_cache_entries"].has("cache", "responses"))
	assert.Equal(t, 2.0, fams["llmgate_limiter_admitted_total"].sum())
	assert.Equal(t, 1.0, fams["llmgate_billing_records_total"].sum(), "a kept answer makes no usage record")
	assert.Equal(t, 1.0, fams["llmgate_usage_pipeline_enqueued_total"].sum())
	assert.Greater(t, fams["llmgate_cost_usd_total"].sum("target", "a", "model", "gpt-4o-mini"), 0.0, "the cost recorder sits before the pipeline")
}

// metrics.disable leaves /metrics to the gateway's handler: its 404.
func TestMetricsDisabledLeavesTheirPathToTheGateway(t *testing.T) {
	g, base := reloadGateway(t, okProviders+"metrics: {disable: true}\n", Options{})
	assert.Nil(t, g.Metrics())
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Contains(t, string(body), `"error"`)
}

// metrics.path moves them; the old path is the gateway's 404.
func TestMetricsPathIsConfigurable(t *testing.T) {
	_, base := reloadGateway(t, okProviders+"metrics: {path: /internal/metrics}\n", Options{})
	assert.NotNil(t, scrape(t, base+"/internal/metrics")["llmgate_breaker_state"])
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// On an embedder's registry: the metrics are there and Handler serves
// them; Close takes them off, so a gateway built again on it registers
// the same names.
func TestMetricsOnTheEmbeddersRegistry(t *testing.T) {
	reg := &unregisterSpy{Registry: prometheus.NewRegistry()}
	build := func() *Gateway {
		f, err := Parse("t.yaml", []byte(okProviders), env{}.lookup)
		require.NoError(t, err)
		g, err := Build(f, Options{Registerer: reg, UsageFile: filepath.Join(t.TempDir(), "u.jsonl")})
		require.NoError(t, err)
		return g
	}
	g := build()
	fams, err := reg.Gather()
	require.NoError(t, err)
	var names []string
	for _, f := range fams {
		names = append(names, f.GetName())
	}
	assert.Contains(t, names, "llmgate_breaker_state")
	srv := httptest.NewServer(g.Handler())
	assert.NotNil(t, scrape(t, srv.URL+"/metrics")["llmgate_breaker_state"])
	srv.Close()
	g.Close()
	fams, err = reg.Gather()
	require.NoError(t, err)
	assert.Empty(t, fams)
	build().Close()
	assert.Zero(t, reg.refused, "Close took every collector Build registered off the registry")
}

// unregisterSpy counts the collectors a registry could not unregister (an
// unchecked one, describing nothing, stays registered forever).
type unregisterSpy struct {
	*prometheus.Registry
	refused int
}

func (s *unregisterSpy) Unregister(c prometheus.Collector) bool {
	ok := s.Registry.Unregister(c)
	if !ok {
		s.refused++
	}
	return ok
}

// A reload that adds a target makes its breaker's series appear, one that
// removes a target makes them go, and the models labelled follow the file.
func TestReloadWatchesTheTargetsItBuilds(t *testing.T) {
	g, base := reloadGateway(t, reloadYAML(1, 1, "1000", ""), Options{})
	closed := func() map[string]bool {
		out := map[string]bool{}
		for _, s := range scrape(t, base+"/metrics")["llmgate_breaker_state"].samples {
			if s.labels["state"] == "closed" && s.value == 1 {
				out[s.labels["target"]] = true
			}
		}
		return out
	}
	assert.Equal(t, map[string]bool{"a": true, "b": true}, closed())

	added := strings.Replace(reloadYAML(1, 1, "1000", ""), "    - {provider: b, weight: 1}\n", "    - {provider: b, weight: 1}\n    - {provider: c}\n", 1)
	require.NoError(t, reloadWith(t, g, added))
	assert.Equal(t, map[string]bool{"a": true, "b": true, "c": true}, closed())

	removed := strings.Replace(reloadYAML(1, 1, "1000", ""), "    - {provider: b, weight: 1}\n", "", 1)
	removed = strings.Replace(removed, "models: [m]", "models: [m, n]", 1)
	require.NoError(t, reloadWith(t, g, removed))
	assert.Equal(t, map[string]bool{"a": true}, closed())

	resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"n","messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	fams := scrape(t, base+"/metrics")
	assert.Equal(t, 1.0, fams["gen_ai_client_operation_duration_seconds"].sum("gen_ai_request_model", "n"), "a model the reloaded file names is labelled")
	assert.Equal(t, 2.0, fams["llmgate_config_reloads_total"].sum("result", "applied"))

	require.Error(t, reloadWith(t, g, "providers: []\n"))
	assert.Equal(t, 1.0, scrape(t, base+"/metrics")["llmgate_config_reloads_total"].sum("result", "rejected"))
}

// Options.OnReload is still told, after the metrics count the outcome.
func TestMetricsChainOnReload(t *testing.T) {
	var told []error
	g, base := reloadGateway(t, reloadYAML(1, 1, "10", ""), Options{OnReload: func(err error) { told = append(told, err) }})
	require.NoError(t, reloadWith(t, g, reloadYAML(2, 1, "10", "")))
	require.Len(t, told, 1)
	assert.NoError(t, told[0])
	assert.Equal(t, 1.0, scrape(t, base+"/metrics")["llmgate_config_reloads_total"].sum("result", "applied"))
}

// The default models are every model the file names; tenants: true labels
// the tenants it names.
func TestMetricsDefaultsComeFromTheFile(t *testing.T) {
	f, err := Parse("t.yaml", []byte(`
providers:
  - {name: a, type: sim, models: [m1, other], model_map: {alias: m2}}
  - {name: az, type: azure, base_url: "https://x.openai.azure.com", azure: {api_version: "2024-10-21", deployments: {gpt-4o: dep1}}}
router:
  targets:
    - {provider: a, models: [m3], model_map: {m4: m5}}
    - {provider: az}
limits:
  rules:
    - {name: r, unit: requests, limit: 1, per: hour, models: ["gpt-4*"]}
keys:
  demo: true
  memory:
    - {id: k1, digest: "sha256:`+strings.Repeat("0", 64)+`", tenant: acme, models: [m6]}
billing:
  budgets:
    tenants: {beta: {limit_usd: 1}}
metrics: {tenants: true}
`), env{}.lookup)
	require.NoError(t, err)
	assert.Equal(t, []string{"alias", "gpt-4*", "gpt-4o", "m1", "m2", "m3", "m4", "m5", "m6", "other"}, f.ModelNames())
	c := newChecker(&f.src)
	p := c.metricsSection(f)
	require.NoError(t, c.err())
	assert.NotContains(t, p.cfg.Models, "other", "a label the metrics reserve is left out of the default")
	assert.Equal(t, []string{"acme", "beta", "demo"}, p.cfg.Tenants)
}

// The budgets of billing.budgets.tenants are exposed by tenant, their
// limits and what is left in the current period, to the nano-dollar of the
// usage records; a reload's new limit is read at the next scrape. The key
// cache's hits are counted.
func TestMetricsShowTheTenantsBudgetsAcrossAReload(t *testing.T) {
	dir := t.TempDir()
	prices, usage := filepath.Join(dir, "prices.json"), filepath.Join(dir, "usage.jsonl")
	writePrices(t, prices, "0.000001", "0.000001")
	g, base := billedGateway(t, budgetYAML(prices, "1"), usage)
	for range 2 {
		require.Equal(t, http.StatusOK, postAs(t, base, secretA))
	}
	settled := func() bool { // the calls' holds are released when they end, just after their answers
		budgets, err := g.billing.meter.TenantBudgets(context.Background())
		require.NoError(t, err)
		return budgets[0].Held == 0
	}
	for i := 0; i < 1000 && !settled(); i++ {
		time.Sleep(time.Millisecond)
	}
	require.True(t, settled())
	fams := scrape(t, base+"/metrics")
	assert.Equal(t, 1.0, fams["llmgate_budget_limit_usd"].sum("tenant", "acme"))
	assert.Equal(t, 1.0, fams["llmgate_budget_remaining_usd"].sum("tenant", "beta"), "beta spent nothing")
	acmeLeft := fams["llmgate_budget_remaining_usd"].sum("tenant", "acme")
	assert.Zero(t, fams["llmgate_budget_read_errors_total"].sum())
	// Each call's key is looked up twice (the guard at the edge, then Auth
	// in the chain): one load, then three fresh hits.
	assert.Equal(t, 1.0, fams["llmgate_cache_loads_total"].sum("cache", "keys"))
	assert.Equal(t, 3.0, fams["llmgate_cache_hits_total"].sum("cache", "keys"))

	require.NoError(t, reloadWith(t, g, budgetYAML(prices, "2")))
	fams = scrape(t, base+"/metrics")
	assert.Equal(t, 2.0, fams["llmgate_budget_limit_usd"].sum("tenant", "acme"))
	acmeLeftAfter := fams["llmgate_budget_remaining_usd"].sum("tenant", "acme")

	var nano int64
	for _, r := range usageRecords(t, g, usage) {
		nano += r.Cost
	}
	require.Positive(t, nano)
	assert.InDelta(t, float64(1e9-nano)/1e9, acmeLeft, 1e-12)
	assert.InDelta(t, float64(2e9-nano)/1e9, acmeLeftAfter, 1e-12)
}
