package cache_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/cache"
	"github.com/llmgate/gateway/gatewaytest"
)

// newAdmin returns the admin API over s, telling notify, and its admin key.
func newAdmin(t testing.TB, s cache.Store, notify cache.KeyNotifier) (http.Handler, string) {
	t.Helper()
	adminKey := cache.NewSecret()
	h, err := cache.NewKeyAdmin(s, notify, gatewaytest.NewClock(storeEpoch)).Handler(cache.DigestOf(adminKey))
	require.NoError(t, err)
	return h, adminKey
}

func adminDo(t testing.TB, h http.Handler, key, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func secretOf(t testing.TB, body []byte) string {
	t.Helper()
	var out struct {
		Key    cache.KeyMeta `json:"key"`
		Secret string        `json:"secret"`
	}
	require.NoError(t, json.Unmarshal(body, &out))
	require.True(t, strings.HasPrefix(out.Secret, cache.SecretPrefix), string(body))
	require.Equal(t, cache.DigestOf(out.Secret), out.Key.Digest)
	return out.Secret
}

// Case 28: create, use, disable, re-enable, narrow, revoke through the
// admin API, with a cache in front of the store that keeps what it loaded:
// every change is seen by the next call at once, because the admin tells
// the cache; a revoked key never comes back.
func TestAdminLifecycleTakesEffectAtOnce(t *testing.T) {
	store := must(cache.NewMemoryStore())
	keys := newMapCache(store)
	admin, adminKey := newAdmin(t, store, keys)
	h := authHandler(t, keys, cache.AuthConfig{}, nil)

	w := adminDo(t, admin, adminKey, http.MethodPost, "/admin/keys",
		`{"id":"team-a","tenant":"acme","priority":2,"models":["gpt-4o*"],"ips":["0.0.0.0/0"],"limits":{"rpm":10},"budget":{"limit":1000000000,"period":"day"}}`)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	secret := secretOf(t, w.Body.Bytes())
	call := func() int { return post(h, "192.0.2.1:1", "Authorization", "Bearer "+secret).Code }
	assert.Equal(t, 200, call())
	assert.Equal(t, 200, call())
	assert.Equal(t, 1, keys.loads, "the second call was a cache hit")

	list := adminDo(t, admin, adminKey, http.MethodGet, "/admin/keys", "")
	require.Equal(t, http.StatusOK, list.Code)
	assert.NotContains(t, list.Body.String(), secret, "the secret is shown once, at creation")
	var listed struct{ Keys []cache.KeyMeta }
	require.NoError(t, json.Unmarshal(list.Body.Bytes(), &listed))
	require.Len(t, listed.Keys, 1)
	k := listed.Keys[0]
	assert.Equal(t, "team-a", k.ID)
	assert.Equal(t, cache.StatusActive, k.Status)
	assert.Equal(t, int64(10), k.Limits["rpm"])
	assert.True(t, storeEpoch.Equal(k.Created))

	steps := []struct {
		method, path, body string
		want               int
	}{
		{http.MethodPost, "/admin/keys/team-a/disable", "", 401},
		{http.MethodPost, "/admin/keys/team-a/enable", "", 200},
		{http.MethodPatch, "/admin/keys/team-a", `{"models":["gpt-4.1"]}`, 403}, // gpt-4o-mini no longer allowed
		{http.MethodPatch, "/admin/keys/team-a", `{"models":[]}`, 200},
		{http.MethodPatch, "/admin/keys/team-a", `{"ips":["198.51.100.0/24"]}`, 403},
		{http.MethodPatch, "/admin/keys/team-a", `{"ips":[]}`, 200},
		{http.MethodPost, "/admin/keys/team-a/revoke", "", 401},
	}
	for _, s := range steps {
		w := adminDo(t, admin, adminKey, s.method, s.path, s.body)
		require.Equal(t, http.StatusOK, w.Code, "%s %s: %s", s.method, s.path, w.Body)
		assert.Equal(t, s.want, call(), "after %s %s %s", s.method, s.path, s.body)
	}
	w = adminDo(t, admin, adminKey, http.MethodPost, "/admin/keys/team-a/enable", "")
	assert.Equal(t, http.StatusConflict, w.Code)
	assert.Equal(t, 401, call(), "a revoked key never comes back")
}

func TestAdminRequiresTheAdminKey(t *testing.T) {
	store := must(cache.NewMemoryStore())
	admin, adminKey := newAdmin(t, store, nil)
	secret, m := newKey("user", "t")
	require.NoError(t, store.Create(t.Context(), m))
	for _, key := range []string{"", cache.NewSecret(), secret, strings.ToUpper(adminKey)} {
		w := adminDo(t, admin, key, http.MethodGet, "/admin/keys", "")
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.Equal(t, "invalid_api_key", w.Header().Get("X-Llmgate-Error"))
	}
	req := httptest.NewRequest(http.MethodGet, "/admin/keys", nil)
	req.Header.Set("X-Api-Key", adminKey)
	w := httptest.NewRecorder()
	admin.ServeHTTP(w, req)
	assert.Equal(t, http.StatusUnauthorized, w.Code, "only Authorization: Bearer")

	_, err := cache.NewKeyAdmin(store, nil, nil).Handler("")
	assert.Error(t, err, "an admin API is never open")
}

func TestAdminErrors(t *testing.T) {
	store := must(cache.NewMemoryStore())
	admin, key := newAdmin(t, store, nil)
	require.Equal(t, http.StatusCreated, adminDo(t, admin, key, http.MethodPost, "/admin/keys", `{"id":"a","tenant":"t"}`).Code)
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"taken id", http.MethodPost, "/admin/keys", `{"id":"a","tenant":"t"}`, 409, "key_conflict"},
		{"invalid key", http.MethodPost, "/admin/keys", `{"id":"","priority":9}`, 400, "invalid_request"},
		{"unknown field", http.MethodPost, "/admin/keys", `{"id":"b","digest":"x"}`, 400, "invalid_request"},
		{"not json", http.MethodPost, "/admin/keys", `{`, 400, "invalid_request"},
		{"two documents", http.MethodPost, "/admin/keys", `{"id":"b"} {}`, 400, "invalid_request"},
		{"too large", http.MethodPost, "/admin/keys", `{"id":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "request_too_large"},
		{"unknown id", http.MethodPost, "/admin/keys/nobody/disable", "", 404, "key_not_found"},
		{"unknown action", http.MethodPost, "/admin/keys/a/explode", "", 404, "unknown_url"},
		{"wrong method", http.MethodDelete, "/admin/keys/a", "", 404, "unknown_url"},
		{"bad patch", http.MethodPatch, "/admin/keys/a", `{"priority":-1}`, 400, "invalid_request"},
		{"outside the prefix", http.MethodGet, "/admin/other", "", 404, "unknown_url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := adminDo(t, admin, key, tc.method, tc.path, tc.body)
			assert.Equal(t, tc.status, w.Code, w.Body.String())
			assert.Equal(t, tc.code, w.Header().Get("X-Llmgate-Error"))
		})
	}
	// An id with a slash is sent escaped.
	require.Equal(t, http.StatusCreated, adminDo(t, admin, key, http.MethodPost, "/admin/keys", `{"id":"team/a","tenant":"t"}`).Code)
	assert.Equal(t, http.StatusOK, adminDo(t, admin, key, http.MethodPost, "/admin/keys/team%2Fa/disable", "").Code)
}

// The admin stamps its clock's time on what it creates and changes.
func TestAdminStampsTimes(t *testing.T) {
	store := must(cache.NewMemoryStore())
	clk := gatewaytest.NewClock(storeEpoch)
	a := cache.NewKeyAdmin(store, nil, clk)
	_, m, err := a.Create(t.Context(), cache.KeySpec{ID: "a", Tenant: "t"})
	require.NoError(t, err)
	assert.True(t, storeEpoch.Equal(m.Created) && storeEpoch.Equal(m.Updated))
	clk.Advance(time.Minute)
	m, err = a.SetStatus(t.Context(), "a", cache.StatusDisabled)
	require.NoError(t, err)
	assert.True(t, storeEpoch.Equal(m.Created))
	assert.True(t, storeEpoch.Add(time.Minute).Equal(m.Updated))
}
