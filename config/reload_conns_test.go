package config

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
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
	f, err := Parse("t.yaml", []byte(conf("sk-b", "1")), env{}.lookup)
	require.NoError(t, err)
	g, err := Build(f, Options{UsageFile: t.TempDir() + "/usage.jsonl"})
	require.NoError(t, err)
	require.NoError(t, g.Start(context.Background()))
	defer g.Close()
	defer func() { _ = g.Stop(context.Background()) }()
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	client := &http.Client{Timeout: 30 * time.Second}

	code, body := post(t, client, srv.URL)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, int64(1), connsA.Load())

	// a: the same configuration (its target's weight changes); b: a new key.
	require.NoError(t, reloadWith(t, g, conf("sk-b2", "2")))
	code, body = post(t, client, srv.URL)
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, int64(1), connsA.Load(), "the call went on a's open connection")

	// A refused reload (a bad limit) closes only what it built: a's
	// connection, kept, stays open.
	require.Error(t, reloadWith(t, g, conf("sk-b2", "2")+"retry: {max_attempts: -1}\n"))
	code, body = post(t, client, srv.URL)
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, int64(1), connsA.Load(), "a refused reload left a's connection open")

	// b, rebuilt, sends the new key (tier 1: reached when a is gone).
	require.NoError(t, reloadWith(t, g, `providers:
  - {name: b, type: openai, base_url: `+upB+`, api_key: sk-b2, models: [m]}
health: {disable: true}
hedge: {disable: true}
`))
	code, body = post(t, client, srv.URL)
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, "Bearer sk-b2", authB())
	assert.Equal(t, int64(1), connsB.Load())
}
