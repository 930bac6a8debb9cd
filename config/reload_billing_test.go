package config

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/billing"
	"github.com/llmgate/gateway/cache"
)

// writePrices writes a LiteLLM price file pricing model m at in and out
// dollars per token.
func writePrices(t *testing.T, path, in, out string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(`{"m": {"input_cost_per_token": `+in+`, "output_cost_per_token": `+out+`}}`), 0o600))
}

// costOf is what usage (10 prompt, 2 completion tokens) costs at in and out
// nano-dollars per token.
func costOf(in, out int64) int64 { return 10*in + 2*out }

// gatedUpstream is an OpenAI-compatible upstream on 127.0.0.1 whose first
// call (a POST) waits for release (after telling arrived); every answer reports
// 10 prompt and 2 completion tokens.
func gatedUpstream(t *testing.T) (url string, arrived, release chan struct{}) {
	arrived, release = make(chan struct{}), make(chan struct{})
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Only calls count: the health checks' probes (a model list) come
		// at any time, and one taken for the first call made the test
		// reload before the call was held.
		if r.Method == http.MethodPost && n.Add(1) == 1 {
			close(arrived)
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],` +
			`"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1", arrived, release
}

// billedGateway builds yaml with its usage records in usage, and serves it.
func billedGateway(t *testing.T, yaml, usage string) (*Gateway, string) {
	t.Helper()
	g, srv := startedGateway(t, yaml, usage)
	billedServers.Store(g, srv)
	t.Cleanup(func() {
		srv.Close()
		_ = g.Stop(context.Background())
		g.Close()
		billedServers.Delete(g)
	})
	return g, srv.URL
}

// billedServers are billedGateway's servers, by gateway.
var billedServers sync.Map

// usageRecords stops g's server, then g (its pipeline drains), as Stop's
// contract asks: a call's record is made when the call ends, which is
// after the caller has its answer, so only a stopped server has none left
// to make. It reads the records of g's usage file.
func usageRecords(t *testing.T, g *Gateway, usage string) []billing.Record {
	t.Helper()
	if srv, ok := billedServers.Load(g); ok {
		srv.(*httptest.Server).Close() // waits for the handlers still running
	}
	require.NoError(t, g.Stop(context.Background()))
	f, err := os.Open(usage)
	require.NoError(t, err)
	defer f.Close()
	var recs []billing.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r billing.Record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		recs = append(recs, r)
	}
	require.NoError(t, sc.Err())
	return recs
}

func callIDs(recs []billing.Record) map[string]bool {
	out := map[string]bool{}
	for _, r := range recs {
		out[r.CallID] = true
	}
	return out
}

// After a reload that changes a model's price (the same price file,
// edited), the next call's record has the new cost, while a call reserved
// before it keeps the old one.
func TestReloadPricesApplyToTheNextCallNotToOneInFlight(t *testing.T) {
	dir := t.TempDir()
	prices, usage := filepath.Join(dir, "prices.json"), filepath.Join(dir, "usage.jsonl")
	writePrices(t, prices, "0.000001", "0.000002")
	upstream, arrived, release := gatedUpstream(t)
	y := `providers:
  - {name: up, type: openai, base_url: ` + upstream + `, models: [m]}
hedge: {disable: true}
billing:
  prices_file: ` + prices + `
`
	g, base := billedGateway(t, y, usage)
	client := &http.Client{Timeout: 30 * time.Second}
	first := make(chan int, 1)
	go func() {
		code, _ := post(t, client, base)
		first <- code
	}()
	<-arrived // the Meter has held it at the first prices

	writePrices(t, prices, "0.00001", "0.00002")
	require.NoError(t, reloadWith(t, g, y))
	close(release)
	require.Equal(t, http.StatusOK, <-first)
	code, body := post(t, client, base)
	require.Equal(t, http.StatusOK, code, body)

	recs := usageRecords(t, g, usage)
	require.Len(t, recs, 2)
	slices.SortFunc(recs, func(a, b billing.Record) int { return a.Time.Compare(b.Time) })
	assert.Equal(t, costOf(1000, 2000), recs[0].Cost, "reserved before the reload: the old price")
	assert.Equal(t, costOf(10_000, 20_000), recs[1].Cost, "after it: the new price")
}

// budgetYAML is a sim priced at $1 per million tokens, two keys of two
// tenants with the limit given (dollars), and the keys' secrets.
func budgetYAML(prices, limit string) string {
	return `providers:
  - {name: s, type: sim, models: [m], sim: {completion_tokens: 20}}
keys:
  memory:
    - {id: ka, tenant: acme, digest: "` + cache.DigestOf(secretA).String() + `"}
    - {id: kb, tenant: beta, digest: "` + cache.DigestOf(secretB).String() + `"}
billing:
  prices_file: ` + prices + `
  budgets:
    default_max_tokens: 10
    tenants:
      acme: {limit_usd: ` + limit + `}
      beta: {limit_usd: ` + limit + `}
`
}

const (
	secretA = "sk-test-acme-0000000000000000"
	secretB = "sk-test-beta-0000000000000000"
)

func postAs(t *testing.T, base, secret string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/v1/chat/completions",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// A tenant's spend survives a reload that changes its limit: a limit lowered
// below the spend refuses it (while a tenant with no spend is admitted under
// the same limit), and raised again admits it.
func TestReloadKeepsATenantsSpendAcrossALimitChange(t *testing.T) {
	dir := t.TempDir()
	prices := filepath.Join(dir, "prices.json")
	writePrices(t, prices, "0.000001", "0.000001")
	g, base := billedGateway(t, budgetYAML(prices, "1"), filepath.Join(dir, "usage.jsonl"))
	for range 6 { // at least 6 × 21 tokens: $0.000126 spent
		require.Equal(t, http.StatusOK, postAs(t, base, secretA))
	}
	// $0.0001 holds one call (a short prompt and 10 output tokens) with no
	// spend, not with acme's.
	require.NoError(t, reloadWith(t, g, budgetYAML(prices, "0.0001")))
	assert.Equal(t, http.StatusPaymentRequired, postAs(t, base, secretA), "acme's spend was kept")
	assert.Equal(t, http.StatusOK, postAs(t, base, secretB), "the new limit admits a tenant with no spend")

	require.NoError(t, reloadWith(t, g, budgetYAML(prices, "1")))
	assert.Equal(t, http.StatusOK, postAs(t, base, secretA), "raised: admitted again")
}

// A reload whose billing or keys section has mistakes is refused with every
// one of them, and the old prices still apply.
func TestReloadRefusesABadBillingOrKeysSection(t *testing.T) {
	dir := t.TempDir()
	prices, usage := filepath.Join(dir, "prices.json"), filepath.Join(dir, "usage.jsonl")
	writePrices(t, prices, "0.000001", "0.000002")
	good := `providers:
  - {name: s, type: sim, models: [m], sim: {completion_tokens: 2}}
billing:
  prices_file: ` + prices + `
`
	g, base := billedGateway(t, good, usage)
	bad := `providers:
  - {name: s, type: sim, models: [m], sim: {completion_tokens: 2}}
keys:
  memory:
    - {id: k1, digest: nope}
  postgres: {dsn: "postgres://127.0.0.1:1/x"}
billing:
  prices_file: ` + filepath.Join(dir, "missing.json") + `
  sinks: {jsonl: {path: /nonexistent/dir/usage.jsonl}}
  budgets:
    policy: lenient
    redis: {addr: nohost}
    tenants:
      acme: {limit_usd: 0}
`
	err := reloadWith(t, g, bad)
	require.ErrorIs(t, err, ErrReloadRefused)
	for _, want := range []string{
		"t.yaml:5: keys.memory[0].digest:",
		"t.yaml:6: keys.postgres: is used only with store: postgres",
		"t.yaml:8: billing.prices_file: billing: price file:",
		`t.yaml:9: billing.sinks.jsonl.path: its directory "/nonexistent/dir" does not exist`,
		`t.yaml:11: billing.budgets.policy: unknown policy "lenient"`,
		"t.yaml:12: billing.budgets.redis.addr: want host:port",
		"t.yaml:14: billing.budgets.tenants.acme.limit_usd: must be a positive number of dollars",
	} {
		assert.Contains(t, err.Error(), want)
	}
	assert.Equal(t, ReloadStats{Rejected: 1}, g.ReloadStats())

	// The old prices apply, though the price file now holds others.
	writePrices(t, prices, "0.00001", "0.00002")
	code, body := post(t, &http.Client{}, base)
	require.Equal(t, http.StatusOK, code, body)
	recs := usageRecords(t, g, usage)
	require.Len(t, recs, 1)
	u := recs[0].Usage
	assert.Equal(t, int64(u.PromptTokens)*1000+int64(u.CompletionTokens)*2000, recs[0].Cost)
}

// RestartKeys names the billing keys that need a restart, and none of
// those that apply live.
func TestRestartKeysNamesBillingSubkeys(t *testing.T) {
	const base = "providers:\n  - {name: s, type: sim}\nbilling:\n"
	for _, tc := range []struct {
		name, billing string
		want          []string
	}{
		{"prices", "  prices_file: /x.json\n", nil},
		{"budgets", "  budgets: {policy: expected, default_max_tokens: 5, tenants: {a: {limit_usd: 1}}, keys: {k: {limit_usd: 2}}}\n", nil},
		{"sinks", "  sinks: {jsonl: {path: /tmp/u.jsonl}}\n", []string{"billing.sinks"}},
		{"spill_dir", "  spill_dir: /tmp/w\n", []string{"billing.spill_dir"}},
		{"pipeline", "  pipeline: {buffer: 8}\n", []string{"billing.pipeline"}},
		{"budgets.redis", "  budgets: {redis: {addr: 127.0.0.1:6379}}\n", []string{"billing.budgets.redis"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Parse("t.yaml", []byte(base), env{}.lookup)
			require.NoError(t, err)
			b, err := Parse("t.yaml", []byte(base+tc.billing), env{}.lookup)
			require.NoError(t, err)
			assert.Equal(t, tc.want, RestartKeys(a, b))
		})
	}
}

// A target whose hedge settings are unchanged keeps the latency its hedge
// learned across a reload; changed settings start it afresh.
func TestReloadKeepsHedgeLatencyOfUnchangedTarget(t *testing.T) {
	y := reloadYAML(1, 1, "1000", "")
	g, _ := reloadGateway(t, y, Options{})
	before := g.hedges["a"].lat
	require.NotNil(t, before)
	require.NoError(t, reloadWith(t, g, reloadYAML(3, 1, "1000", ""))) // reweighted, same hedge
	assert.Same(t, before, g.hedges["a"].lat)
	require.NoError(t, reloadWith(t, g, reloadYAML(3, 1, "1000", "hedge: {percentile: 0.9}\n")))
	assert.NotSame(t, before, g.hedges["a"].lat, "new hedge settings learn afresh")
}

// Calls go on while prices are reloaded back and forth: none fails, and
// every call has its one record, priced at one of the two prices.
func TestReloadPricesUnderLoadLosesNoRecord(t *testing.T) {
	dir := t.TempDir()
	cheap, dear, usage := filepath.Join(dir, "cheap.json"), filepath.Join(dir, "dear.json"), filepath.Join(dir, "usage.jsonl")
	writePrices(t, cheap, "0.000001", "0.000001")
	writePrices(t, dear, "0.00001", "0.00001")
	yaml := func(prices string) string {
		return "providers:\n  - {name: s, type: sim, models: [m], sim: {completion_tokens: 2}}\nbilling:\n  prices_file: " + prices + "\n"
	}
	g, base := billedGateway(t, yaml(cheap), usage)
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	const workers, perWorker, reloads = 4, 50, 20 // bounded in count; the client's timeout bounds the time
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range workers {
		wg.Go(func() {
			for range perWorker {
				if code, _ := post(t, client, base); code != http.StatusOK {
					failed.Add(1)
				}
			}
		})
	}
	for i := range reloads {
		p := cheap
		if i%2 == 0 {
			p = dear
		}
		require.NoError(t, reloadWith(t, g, yaml(p)))
	}
	wg.Wait()
	assert.Zero(t, failed.Load(), "no call fails because of a reload")

	recs := usageRecords(t, g, usage)
	require.Len(t, recs, workers*perWorker, "one record per call")
	require.Len(t, callIDs(recs), workers*perWorker, "none twice")
	for _, r := range recs {
		tokens := int64(r.Usage.PromptTokens + r.Usage.CompletionTokens)
		assert.Contains(t, []int64{tokens * 1000, tokens * 10_000}, r.Cost)
	}
}

// retry.max_wait and retry.idempotent are one rule for Retry and the
// router, and the router keeps the values it was built with (Router.Update
// takes targets only): a change to either needs a restart, and a reload
// that changes them keeps the running ones for Retry too, so the two never
// disagree. Before, a reload gave Retry the new values and the router kept
// the old, silently. Other retry settings still apply live.
func TestRestartKeysNamesTheRetryRulesTheRouterShares(t *testing.T) {
	const base = "providers:\n  - {name: s, type: sim}\n"
	for _, tc := range []struct {
		name, retry string
		want        []string
	}{
		{"attempts", "retry: {max_attempts: 5}\n", nil},
		{"max_wait", "retry: {max_wait: 5s}\n", []string{"retry.max_wait"}},
		{"idempotent", "retry: {idempotent: none}\n", []string{"retry.idempotent"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Parse("t.yaml", []byte(base), env{}.lookup)
			require.NoError(t, err)
			b, err := Parse("t.yaml", []byte(base+tc.retry), env{}.lookup)
			require.NoError(t, err)
			assert.Equal(t, tc.want, RestartKeys(a, b))
		})
	}
}
