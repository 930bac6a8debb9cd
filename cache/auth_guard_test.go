package cache_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/cache"
)

// countingBody counts the bytes the handler read of a request body.
type countingBody struct {
	r    io.Reader
	read *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read.Add(int64(n))
	return n, err
}

func (countingBody) Close() error { return nil }

// A request without a valid key is refused before the entry point reads a
// byte of its body (it would otherwise read and parse up to MaxBodyBytes,
// and hold them in the bodies-in-flight budget, for a caller with no key):
// the same 401 in the OpenAI shape, with its X-Request-Id, told to the
// observers as Auth's own refusal would be. A good key is served as
// without the guard.
func TestAuthGuardRefusesBeforeTheBodyIsRead(t *testing.T) {
	secret, m := newKey("team-a", "acme")
	store := must(cache.NewMemoryStore(m))
	var mu sync.Mutex
	var results []error
	var s seen
	h := authHandler(t, store, cache.AuthConfig{}, &s, gateway.WithObserver(func(c *gateway.Call) {
		_, err := c.Result()
		mu.Lock()
		results = append(results, err)
		mu.Unlock()
	}))
	guard, err := cache.AuthGuard(store, cache.AuthConfig{})
	require.NoError(t, err)
	h = guard(h)

	send := func(method, path, auth string) (*httptest.ResponseRecorder, int64) {
		var read atomic.Int64
		big := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("x", 1<<20) + `"}]}`
		req := httptest.NewRequest(method, path, nil)
		if method == http.MethodPost {
			req.Body, req.ContentLength = countingBody{strings.NewReader(big), &read}, int64(len(big))
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w, read.Load()
	}
	for _, auth := range []string{"", "Bearer sk-wrong", "Basic abc"} {
		w, read := send(http.MethodPost, "/v1/chat/completions", auth)
		assert.Equal(t, http.StatusUnauthorized, w.Code, "%q", auth)
		assert.Equal(t, "invalid_api_key", w.Header().Get("X-Llmgate-Error"))
		assert.NotEmpty(t, w.Header().Get("X-Request-Id"))
		assert.Contains(t, w.Body.String(), `"code":"invalid_api_key"`)
		assert.Zero(t, read, "%q: no byte of the body read", auth)
	}
	w, _ := send(http.MethodGet, "/v1/models", "Bearer sk-wrong")
	assert.Equal(t, http.StatusUnauthorized, w.Code, "a GET is refused by Auth")

	w, read := send(http.MethodPost, "/v1/chat/completions", "Bearer "+secret)
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Greater(t, read, int64(1<<20))
	require.Len(t, s.callers, 1, "only the good key reached the provider")
	assert.Equal(t, "team-a", s.callers[0].KeyID)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, results, 5, "every request, refused or not, is a Call the observers see")
	for _, err := range results[:4] {
		assert.True(t, errors.Is(err, cache.ErrUnauthorized), "%v", err)
	}
	assert.NoError(t, results[4])
}

func TestAuthGuardConfig(t *testing.T) {
	_, err := cache.AuthGuard(must(cache.NewMemoryStore()), cache.AuthConfig{TrustedProxies: make([]netip.Prefix, 1)})
	assert.Error(t, err)
}
