package cache_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/cache"
)

// mapCache stands in for the metadata cache (*cache.Cache[Digest, KeyMeta])
// in these tests: a map in front of a Store that keeps what it loaded until
// Invalidate, and counts loads. It is what Auth and Admin see of a cache.
type mapCache struct {
	store cache.Store
	mu    sync.Mutex
	kept  map[cache.Digest]cache.KeyMeta
	loads int
}

func newMapCache(s cache.Store) *mapCache {
	return &mapCache{store: s, kept: map[cache.Digest]cache.KeyMeta{}}
}

func (c *mapCache) Get(ctx context.Context, d cache.Digest) (cache.KeyMeta, error) {
	c.mu.Lock()
	m, ok := c.kept[d]
	c.mu.Unlock()
	if ok {
		return m, nil
	}
	m, err := c.store.Get(ctx, d)
	if err != nil {
		return m, err
	}
	c.mu.Lock()
	c.kept[d] = m
	c.loads++
	c.mu.Unlock()
	return m, nil
}

func (c *mapCache) Added(context.Context, cache.Digest) error { return nil }

func (c *mapCache) Invalidate(_ context.Context, d cache.Digest) error {
	c.mu.Lock()
	delete(c.kept, d)
	c.mu.Unlock()
	return nil
}

// seen is what the provider below Auth received.
type seen struct {
	mu      sync.Mutex
	headers []http.Header
	callers []gateway.Caller
}

// recorder is a Provider that answers every chat with a fixed completion
// and remembers the headers and the Caller of each request.
type recorder struct{ s *seen }

func (recorder) Name() string { return "rec" }

const okBody = `{"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`

func (r recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	if r.s != nil {
		r.s.mu.Lock()
		r.s.headers = append(r.s.headers, req.Header.Clone())
		r.s.callers = append(r.s.callers, gateway.CallFrom(req.Context()).Caller)
		r.s.mu.Unlock()
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(okBody)), ContentLength: int64(len(okBody)), Request: req}, nil
}

// authHandler is NewHandler over Auth over a recorder.
func authHandler(t testing.TB, keys cache.KeyLookup, cfg cache.AuthConfig, s *seen, opts ...gateway.Option) http.Handler {
	t.Helper()
	auth, err := cache.Auth(keys, cfg)
	require.NoError(t, err)
	return gateway.NewHandler(gateway.Chain(recorder{s}, auth), opts...)
}

const chatBody = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`

// post sends a chat to h with the headers given (name, value pairs) from
// remote, and returns the recorded response.
func post(h http.Handler, remote string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(chatBody))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	if remote != "" {
		req.RemoteAddr = remote
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// newKey returns a new secret and an active key for it.
func newKey(id, tenant string) (string, cache.KeyMeta) {
	secret := cache.NewSecret()
	return secret, cache.KeyMeta{ID: id, Digest: cache.DigestOf(secret), Tenant: tenant, Status: cache.StatusActive}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
