package config

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/breaker"
)

// reloadYAML is two sims in tier 0 with the weights and the rule given.
func reloadYAML(wa, wb int, limit string, extra string) string {
	return `providers:
  - {name: a, type: sim, models: [m], sim: {reply: from-a, completion_tokens: 1}}
  - {name: b, type: sim, models: [m], sim: {reply: from-b, completion_tokens: 1}}
  - {name: c, type: sim, models: [m], sim: {reply: from-c, completion_tokens: 1}}
router:
  targets:
    - {provider: a, weight: ` + itoa(wa) + `}
    - {provider: b, weight: ` + itoa(wb) + `}
` + extra + `
limits:
  rules:
    - {name: all, unit: requests, limit: ` + limit + `, per: hour}
`
}

func itoa(n int) string { return strconv.Itoa(n) }

// reloadGateway builds yaml and serves it, with its usage records in a
// temporary directory; everything ends with the test.
func reloadGateway(t *testing.T, yaml string, opts Options) (*Gateway, string) {
	t.Helper()
	f, err := Parse("t.yaml", []byte(yaml), env{}.lookup)
	require.NoError(t, err)
	opts.UsageFile = filepath.Join(t.TempDir(), "usage.jsonl")
	g, err := Build(f, opts)
	require.NoError(t, err)
	require.NoError(t, g.Start(context.Background()))
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(func() {
		srv.Close()
		_ = g.Stop(context.Background())
		g.Close()
	})
	return g, srv.URL
}

func reloadWith(t *testing.T, g *Gateway, yaml string) error {
	t.Helper()
	f, err := Parse("t.yaml", []byte(yaml), env{}.lookup)
	require.NoError(t, err)
	return g.Reload(f)
}

func post(t *testing.T, client *http.Client, base string) (int, string) {
	resp, err := client.Post(base+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Calls go on while the file is reloaded with other weights, targets and
// limits: none fails because of a reload. Each reload waits until a share
// of the calls has been answered, so the reloads land among the calls, not
// before them.
func TestReloadUnderLoadDropsNoCall(t *testing.T) {
	g, base := reloadGateway(t, reloadYAML(1, 1, "100000", ""), Options{})
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	const workers, perWorker = 4, 60 // bounded in count; the client's timeout bounds the time
	var answered atomic.Int64
	var wg sync.WaitGroup
	failures := make(chan string, workers*perWorker)
	for range workers {
		wg.Go(func() {
			for range perWorker {
				if code, body := post(t, client, base); code != http.StatusOK {
					failures <- body
				}
				answered.Add(1)
			}
		})
	}
	files := []string{
		reloadYAML(3, 1, "100000", ""),
		reloadYAML(1, 3, "90000", "    - {provider: c, weight: 1}\n"),
		reloadYAML(1, 1, "80000", "    - {provider: c, weight: 5, tier: 1}\n"),
		reloadYAML(2, 2, "100000", ""),
		reloadYAML(1, 1, "100000", ""),
	}
	var during int // reloads applied while calls were still being made
	for i, y := range files {
		share := int64((i + 1) * workers * perWorker / (len(files) + 1))
		require.Eventually(t, func() bool { return answered.Load() >= share }, 20*time.Second, time.Millisecond,
			"calls stopped before reload %d", i+1)
		require.NoError(t, reloadWith(t, g, y))
		if answered.Load() < workers*perWorker {
			during++
		}
	}
	wg.Wait()
	close(failures)
	for body := range failures {
		t.Errorf("a call failed across a reload: %s", body)
	}
	assert.Equal(t, ReloadStats{Applied: uint64(len(files))}, g.ReloadStats())
	assert.Positive(t, during, "no reload was applied while calls were running")
	// No count lost: every call is counted once, across all the chains the
	// reloads swapped in (a server-mode call is observed just after its
	// answer is written, so the last may trail the caller by a moment).
	require.Eventually(t, func() bool {
		return scrape(t, base+"/metrics")["llmgate_calls_total"].sum("outcome", "ok") == workers*perWorker
	}, 10*time.Second, 5*time.Millisecond, "llmgate_calls_total counts each of the %d calls once", workers*perWorker)
	t.Logf("%d of %d reloads applied while calls ran", during, len(files))
}

// A file with mistakes changes nothing, and every mistake is reported.
func TestReloadBadFileChangesNothing(t *testing.T) {
	var told []error
	g, base := reloadGateway(t, reloadYAML(1, 1, "1000", ""), Options{OnReload: func(err error) { told = append(told, err) }})
	bad := strings.Replace(reloadYAML(1, 1, "0", "    - {provider: nowhere}\n"), "from-a", "changed", 1)
	err := reloadWith(t, g, bad)
	require.ErrorIs(t, err, ErrReloadRefused)
	assert.Contains(t, err.Error(), `router.targets[2].provider: unknown provider "nowhere"`)
	assert.Contains(t, err.Error(), "limits.rules[0]")
	assert.Equal(t, []string{"a", "b"}, g.Targets())
	assert.Equal(t, ReloadStats{Rejected: 1}, g.ReloadStats())
	require.Len(t, told, 1)
	assert.ErrorIs(t, told[0], ErrReloadRefused)
	client := &http.Client{}
	for range 4 {
		code, body := post(t, client, base)
		require.Equal(t, http.StatusOK, code)
		assert.NotContains(t, body, "changed", "the old providers serve")
	}
	assert.Equal(t, int64(1000), g.Limiter().Rules()[0].Limit)
}

// A caller at its limit stays refused after a reload of the same limits.
func TestReloadKeepsLimiterCounts(t *testing.T) {
	y := reloadYAML(1, 1, "2", "")
	g, base := reloadGateway(t, y, Options{})
	client := &http.Client{}
	for range 2 {
		code, _ := post(t, client, base)
		require.Equal(t, http.StatusOK, code)
	}
	code, _ := post(t, client, base)
	require.Equal(t, http.StatusTooManyRequests, code)
	require.NoError(t, reloadWith(t, g, y))
	code, _ = post(t, client, base)
	assert.Equal(t, http.StatusTooManyRequests, code, "the rule kept its count")
}

// An unchanged target keeps its breaker and its state; changed settings
// give it a new one.
func TestReloadKeepsBreakerStateOfUnchangedTarget(t *testing.T) {
	y := `providers:
  - {name: down, type: sim, models: [m], sim: {faults: {error_rate: 1, error_statuses: [500]}}}
  - {name: up, type: sim, models: [m]}
router:
  targets:
    - {provider: down, breaker: {failure_threshold: 1, delay: 1h}}
    - {provider: up, tier: 1}
retry: {max_attempts: 1}
`
	g, base := reloadGateway(t, y, Options{})
	code, _ := post(t, &http.Client{}, base)
	require.Equal(t, http.StatusOK, code, "the fallback serves")
	before := g.breakers["down"].cb
	require.Equal(t, breaker.Open, before.State())

	require.NoError(t, reloadWith(t, g, y))
	assert.Same(t, before, g.breakers["down"].cb)
	assert.Equal(t, breaker.Open, g.breakers["down"].cb.State())

	require.NoError(t, reloadWith(t, g, strings.Replace(y, "failure_threshold: 1", "failure_threshold: 2", 1)))
	assert.NotSame(t, before, g.breakers["down"].cb)
	assert.Equal(t, breaker.Closed, g.breakers["down"].cb.State(), "new settings, a new breaker")
}

// What cannot change live is kept, and the warning names each key.
func TestReloadNamesWhatNeedsARestart(t *testing.T) {
	logs := newSyncBuffer()
	logger, closeLogs := NewLogger(logs, Logging{})
	g, _ := reloadGateway(t, reloadYAML(1, 1, "10", ""), Options{Logger: logger})
	y := "listen: 127.0.0.1:9999\nmax_conns: 10\n" + reloadYAML(2, 1, "10", "")
	require.NoError(t, reloadWith(t, g, y))
	require.NoError(t, closeLogs())
	assert.Equal(t, "127.0.0.1:8080", g.Listen(), "the listen address needs a restart")
	assert.Contains(t, logs.String(), `msg="config: changed, but needs a restart to apply" file=t.yaml key=listen`)
	assert.Contains(t, logs.String(), "key=max_conns")
	assert.Contains(t, logs.String(), `msg="config: reloaded"`)
}

// A change to the watched file, written in place or renamed over it,
// reloads the gateway.
func TestWatchReloadsOnChange(t *testing.T) {
	outcomes := make(chan error, 16)
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	require.NoError(t, os.WriteFile(path, []byte(reloadYAML(1, 1, "10", "")), 0o600))
	f, err := Load(path, env{}.lookup)
	require.NoError(t, err)
	g, err := Build(f, Options{UsageFile: filepath.Join(dir, "usage.jsonl"), OnReload: func(err error) { outcomes <- err }})
	require.NoError(t, err)
	defer g.Close()
	w, err := Watch(path, env{}.lookup, g)
	require.NoError(t, err)
	defer w.Close()

	wait := func() error {
		select {
		case err := <-outcomes:
			return err
		case <-time.After(10 * time.Second): // only if no reload ever comes
			t.Fatal("no reload after the file changed")
			return nil
		}
	}
	require.NoError(t, os.WriteFile(path, []byte(reloadYAML(1, 1, "10", "    - {provider: c}\n")), 0o600))
	require.NoError(t, wait())
	assert.Equal(t, []string{"a", "b", "c"}, g.Targets())

	tmp := filepath.Join(dir, ".gateway.yaml.swp")
	require.NoError(t, os.WriteFile(tmp, []byte(reloadYAML(1, 1, "10", "")), 0o600))
	require.NoError(t, os.Rename(tmp, path))
	require.NoError(t, wait())
	assert.Equal(t, []string{"a", "b"}, g.Targets())

	require.NoError(t, os.WriteFile(path, []byte("providers: [\n"), 0o600))
	assert.ErrorIs(t, wait(), ErrReloadRefused)
	assert.Equal(t, []string{"a", "b"}, g.Targets())
}

// A reload that adds limits.redis and a shared rule, to a gateway started
// without Redis, is refused for the restart limits.redis needs, not told
// that the file lacks the limits.redis it has.
func TestReloadOfASharedRuleWithANewRedisSaysItNeedsARestart(t *testing.T) {
	g, _ := reloadGateway(t, reloadYAML(1, 1, "1000", ""), Options{})
	err := reloadWith(t, g, reloadYAML(1, 1, "1000", "")+`    - {name: s, unit: requests, limit: 10, per: minute, shared: true}
  redis: 127.0.0.1:6379
`)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "needs limits.redis (host:port)", "the file has limits.redis")
	assert.Contains(t, err.Error(), "limits.rules[1].shared: needs limits.redis, which this gateway was started without: it applies at a restart")
}
