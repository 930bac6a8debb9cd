package config

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingUpstream is an OpenAI-compatible upstream that counts the
// connections it accepted and keeps the Authorization of the last call.
func countingUpstream(t *testing.T) (url string, conns *atomic.Int64, lastAuth func() string) {
	conns = new(atomic.Int64)
	var mu sync.Mutex
	var auth string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = r.Header.Get("Authorization")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],` +
			`"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL + "/v1", conns, func() string { mu.Lock(); defer mu.Unlock(); return auth }
}

// A reload that leaves a provider's configuration as it was keeps the
// provider, and so its pool of upstream connections: the next call goes
// on the connection the last one used, with no new dial (a new TLS
// handshake to a real provider). A provider whose configuration changed is
// built anew, and the next call is sent as the new configuration says.
func TestReloadKeepsTheConnectionsOfAnUnchangedProvider(t *testing.T) {
	upA, connsA, _ := countingUpstream(t)
	upB, connsB, authB := countingUpstream(t)
	conf := func(keyB, weight string) string {
		return `providers:
  - {name: a, type: openai, base_url: ` + upA + `, api_key: sk-a, models: [m]}
  - {name: b, type: openai, base_url: ` + upB + `, api_key: ` + keyB + `, models: [m]}
router:
  targets:
    - {name: a, provider: a, weight: ` + weight + `}
    - {name: b, provider: b, weight: 1, tier: 1}
health: {disable: true}
hedge: {disable: true}
`
	}
	g, url, client := serveYAML(t, conf("sk-b", "1"))

	code, body := post(t, client, url)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, int64(1), connsA.Load())

	// a: the same configuration (its target's weight changes); b: a new key.
	require.NoError(t, reloadWith(t, g, conf("sk-b2", "2")))
	code, body = post(t, client, url)
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, int64(1), connsA.Load(), "the call went on a's open connection")

	// A refused reload (a bad retry section) closes only what it built: a's
	// connection, kept, stays open.
	require.Error(t, reloadWith(t, g, conf("sk-b2", "2")+"retry: {max_attempts: -1}\n"))
	code, body = post(t, client, url)
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, int64(1), connsA.Load(), "a refused reload left a's connection open")

	// b, rebuilt at the second reload, sends the new key (tier 1: reached
	// once a is gone).
	require.NoError(t, reloadWith(t, g, `providers:
  - {name: b, type: openai, base_url: `+upB+`, api_key: sk-b2, models: [m]}
health: {disable: true}
hedge: {disable: true}
`))
	code, body = post(t, client, url)
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, "Bearer sk-b2", authB())
	assert.Equal(t, int64(1), connsB.Load())
}

// A File edited in place and reloaded (a program that builds its File and
// changes it) has its provider's changes applied: what a reload compares
// the entry with is the entry as it was built, not the caller's maps.
func TestReloadSeesAProviderEditedInPlace(t *testing.T) {
	var team atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		team.Store(r.Header.Get("X-Team"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`))
	}))
	defer up.Close()
	f, err := Parse("t.yaml", []byte(`providers:
  - {name: a, type: openai, base_url: `+up.URL+`/v1, api_key: sk-a, models: [m], headers: {X-Team: one}}
health: {disable: true}
hedge: {disable: true}
`), env{}.lookup)
	require.NoError(t, err)
	g, err := Build(f, Options{UsageFile: t.TempDir() + "/usage.jsonl"})
	require.NoError(t, err)
	defer g.Close()
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	client := &http.Client{Timeout: 30 * time.Second}
	code, body := post(t, client, srv.URL)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "one", team.Load())

	f.Providers[0].Headers["X-Team"] = "two"
	require.NoError(t, g.Reload(f))
	code, body = post(t, client, srv.URL)
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, "two", team.Load())
}

// cloneProviderConf shares nothing with its source: every map, slice and
// pointer it holds, at any depth, is its own (a field added later without
// its copy fails here).
func TestCloneProviderConfSharesNothing(t *testing.T) {
	p := providerConf{Name: "a", Headers: map[string]string{"k": "v"}, Models: []string{"m"}, ModelMap: map[string]string{"a": "b"},
		Azure: &azureConf{Deployments: map[string]string{"m": "d"}}, Sim: &simConf{Faults: faultsConf{ErrorStatuses: []int{500}}},
		Anthropic: &anthropicConf{Beta: []string{"x"}}}
	c := cloneProviderConf(&p)
	require.Equal(t, p, c)
	var walk func(path string, a, b reflect.Value)
	walk = func(path string, a, b reflect.Value) {
		switch a.Kind() {
		case reflect.Map, reflect.Slice:
			if !a.IsNil() {
				assert.NotEqual(t, a.Pointer(), b.Pointer(), "%s is shared", path)
			}
		case reflect.Pointer:
			if !a.IsNil() {
				assert.NotEqual(t, a.Pointer(), b.Pointer(), "%s is shared", path)
				walk(path, a.Elem(), b.Elem())
			}
		case reflect.Struct:
			for i := range a.NumField() {
				walk(path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i))
			}
		}
	}
	walk("providerConf", reflect.ValueOf(p), reflect.ValueOf(c))
	// Every map, slice and pointer field is set above, so each was checked.
	var unset func(path string, v reflect.Value)
	unset = func(path string, v reflect.Value) {
		switch v.Kind() {
		case reflect.Map, reflect.Slice, reflect.Pointer:
			assert.False(t, v.IsNil(), "%s: set it above, so that its copy is checked", path)
			if v.Kind() == reflect.Pointer && !v.IsNil() {
				unset(path, v.Elem())
			}
		case reflect.Struct:
			for i := range v.NumField() {
				unset(path+"."+v.Type().Field(i).Name, v.Field(i))
			}
		}
	}
	unset("providerConf", reflect.ValueOf(p))
}

// A provider a reload drops has its idle connections closed, and the
// connection of a call still running on it is closed when that call ends:
// none stays open to an upstream the configuration no longer names, for
// the pool's idle timeout.
func TestReloadClosesADroppedProvidersConnectionWhenItsCallEnds(t *testing.T) {
	var open, served atomic.Int64
	held, release := make(chan struct{}), make(chan struct{})
	a := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1) == 2 { // the second call is held until released
			close(held)
			<-release
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],` +
			`"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`))
	}))
	a.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	a.Start()
	defer a.Close()
	var releaseOnce sync.Once
	releaseHeld := func() { releaseOnce.Do(func() { close(release) }) }
	defer releaseHeld() // before a.Close, which waits for the held handler
	upB, _, _ := countingUpstream(t)
	g, url, client := serveYAML(t, `providers:
  - {name: a, type: openai, base_url: `+a.URL+`/v1, api_key: sk-a, models: [m]}
health: {disable: true}
hedge: {disable: true}
`)

	code, body := post(t, client, url)
	require.Equal(t, http.StatusOK, code, body)
	done := make(chan int, 1)
	go func() { code, _ := post(t, client, url); done <- code }()
	select { // the second call is on a's connection, in flight
	case <-held:
	case code := <-done:
		t.Fatalf("the second call ended (%d) before a held it", code)
	}

	require.NoError(t, reloadWith(t, g, `providers:
  - {name: b, type: openai, base_url: `+upB+`, api_key: sk-b, models: [m]}
health: {disable: true}
hedge: {disable: true}
`))
	releaseHeld()
	require.Equal(t, http.StatusOK, <-done, "the call in flight finishes on a")
	code, body = post(t, client, url)
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, int64(2), served.Load(), "the next call went to b")
	require.Eventually(t, func() bool { return open.Load() == 0 }, 10*time.Second, 5*time.Millisecond,
		"a's connection is still open after its last call ended")
}

// serveYAML builds and starts the gateway the YAML describes, serves its
// handler on loopback and returns it, its URL and a client; the test's
// cleanup stops and closes them.
func serveYAML(t *testing.T, yaml string) (*Gateway, string, *http.Client) {
	t.Helper()
	f, err := Parse("t.yaml", []byte(yaml), env{}.lookup)
	require.NoError(t, err)
	g, err := Build(f, Options{UsageFile: t.TempDir() + "/usage.jsonl"})
	require.NoError(t, err)
	t.Cleanup(g.Close)
	require.NoError(t, g.Start(context.Background()))
	t.Cleanup(func() { _ = g.Stop(context.Background()) })
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	return g, srv.URL, &http.Client{Timeout: 30 * time.Second}
}
