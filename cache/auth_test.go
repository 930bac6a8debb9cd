package cache_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/cache"
)

// A good key puts its Caller on the Call, and the request that goes on has
// no credential left in it (case 35, invariant 5).
func TestAuthSetsCallerAndPassesNoKeyOn(t *testing.T) {
	secret, m := newKey("team-a", "acme")
	m.Priority, m.Models = gateway.PriorityRealtime, []string{"gpt-4o*"}
	m.Limits, m.Budget = map[string]int64{"rpm": 60}, gateway.Budget{Limit: 5e9, Period: "day"}
	store := must(cache.NewMemoryStore(m))
	var s seen
	h := authHandler(t, store, cache.AuthConfig{}, &s)

	for _, hdr := range [][]string{
		{"Authorization", "Bearer " + secret},
		{"Authorization", "bearer " + secret},
		{"X-Api-Key", secret},
		{"Api-Key", secret},
		{"Authorization", "Bearer " + secret, "X-Api-Key", secret}, // the same key twice is one
	} {
		w := post(h, "", hdr...)
		require.Equal(t, http.StatusOK, w.Code, "%v: %s", hdr[0], w.Body)
	}
	require.Len(t, s.callers, 5)
	for i, c := range s.callers {
		assert.Equal(t, gateway.Caller{KeyID: "team-a", Tenant: "acme", Priority: gateway.PriorityRealtime,
			Models: []string{"gpt-4o*"}, Limits: map[string]int64{"rpm": 60}, Budget: gateway.Budget{Limit: 5e9, Period: "day"}}, c, "call %d", i)
		for k, vs := range s.headers[i] {
			assert.NotContains(t, []string{"Authorization", "X-Api-Key", "Api-Key"}, k)
			for _, v := range vs {
				assert.NotContains(t, v, secret, "header %s", k)
			}
		}
	}
}

// Every refusal is a 401 or 403 in the OpenAI shape with its mark, reaches
// no provider, and none repeats the key (case 31).
func TestAuthRefusals(t *testing.T) {
	good, active := newKey("active", "t")
	disabledSecret, disabled := newKey("disabled", "t")
	disabled.Status = cache.StatusDisabled
	revokedSecret, revoked := newKey("revoked", "t")
	revoked.Status = cache.StatusRevoked
	unknown := cache.NewSecret()
	store := must(cache.NewMemoryStore(active, disabled, revoked))
	var s seen
	h := authHandler(t, store, cache.AuthConfig{}, &s)

	cases := []struct {
		name    string
		headers []string
		secret  string
	}{
		{"no key", nil, ""},
		{"unknown key", []string{"Authorization", "Bearer " + unknown}, unknown},
		{"unknown x-api-key", []string{"X-Api-Key", unknown}, unknown},
		{"disabled", []string{"Authorization", "Bearer " + disabledSecret}, disabledSecret},
		{"revoked", []string{"Authorization", "Bearer " + revokedSecret}, revokedSecret},
		{"basic scheme", []string{"Authorization", "Basic " + good}, good},
		{"bare key in authorization", []string{"Authorization", good}, good},
		{"empty bearer", []string{"Authorization", "Bearer "}, ""},
		{"two different keys", []string{"Authorization", "Bearer " + good, "X-Api-Key", unknown}, good},
		{"two authorization lines", []string{"Authorization", "Bearer " + good, "Authorization", "Bearer " + good}, good},
		{"oversized", []string{"Authorization", "Bearer " + strings.Repeat("k", 600)}, strings.Repeat("k", 600)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := post(h, "", tc.headers...)
			assert.Equal(t, http.StatusUnauthorized, w.Code)
			assert.Equal(t, "invalid_api_key", w.Header().Get("X-Llmgate-Error"))
			var e struct {
				Error struct{ Message, Type, Code string }
			}
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e))
			assert.Equal(t, "invalid_request_error", e.Error.Type)
			assert.Equal(t, "invalid_api_key", e.Error.Code)
			assert.NotEmpty(t, e.Error.Message)
			if tc.secret != "" {
				assert.NotContains(t, w.Body.String(), tc.secret)
				for k, vs := range w.Header() {
					assert.NotContains(t, strings.Join(vs, " "), tc.secret, k)
				}
			}
		})
	}
	assert.Empty(t, s.callers, "no refused call reached the provider")
	assert.True(t, errors.Is(gateway.ErrorFromResponse(&http.Response{StatusCode: 401,
		Header: http.Header{"X-Llmgate-Error": {"invalid_api_key"}}}), cache.ErrUnauthorized))
}

// A lookup that fails (the store is down) is a 503 with Retry-After, and
// says nothing of the cause.
func TestAuthLookupFailureIs503(t *testing.T) {
	failing := lookupFunc(func(context.Context, cache.Digest) (cache.KeyMeta, error) {
		return cache.KeyMeta{}, errors.New("dial tcp 10.1.2.3:5432: connection refused")
	})
	w := post(authHandler(t, failing, cache.AuthConfig{}, nil), "", "Authorization", "Bearer "+cache.NewSecret())
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, "auth_unavailable", w.Header().Get("X-Llmgate-Error"))
	assert.Equal(t, "1", w.Header().Get("Retry-After"))
	assert.NotContains(t, w.Body.String(), "10.1.2.3")
}

// A lookup that answers with another key's metadata (a broken cache) is no
// match: the digests are compared.
func TestAuthComparesTheDigestFound(t *testing.T) {
	_, other := newKey("other", "t")
	wrong := lookupFunc(func(context.Context, cache.Digest) (cache.KeyMeta, error) { return other, nil })
	w := post(authHandler(t, wrong, cache.AuthConfig{}, nil), "", "Authorization", "Bearer "+cache.NewSecret())
	assert.Equal(t, http.StatusUnauthorized, w.Code)
}

type lookupFunc func(context.Context, cache.Digest) (cache.KeyMeta, error)

func (f lookupFunc) Get(ctx context.Context, d cache.Digest) (cache.KeyMeta, error) { return f(ctx, d) }

// Case 33 (tyk 624): X-Forwarded-For counts only from trusted proxies,
// walked right to left; an unparseable address is denied.
func TestAuthIPAllowlist(t *testing.T) {
	secret, m := newKey("office", "t")
	m.IPs = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/32")}
	store := must(cache.NewMemoryStore(m))
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	h := authHandler(t, store, cache.AuthConfig{TrustedProxies: trusted}, nil)

	cases := []struct {
		name, remote string
		xff          []string
		want         int
	}{
		{"direct from an allowed address", "203.0.113.7:5555", nil, 200},
		{"direct, v6", "[2001:db8::1]:443", nil, 200},
		{"direct, v4-mapped v6", "[::ffff:203.0.113.7]:443", nil, 200},
		{"direct from elsewhere", "198.51.100.1:5555", nil, 403},
		{"untrusted peer claims an allowed address", "198.51.100.1:5555", []string{"203.0.113.7"}, 403},
		{"through a trusted proxy", "10.0.0.2:4000", []string{"203.0.113.7"}, 200},
		{"through two trusted proxies", "10.0.0.2:4000", []string{"203.0.113.7, 10.9.9.9"}, 200},
		{"spoofed leftmost entry is not read", "10.0.0.2:4000", []string{"203.0.113.7, 198.51.100.1"}, 403},
		{"spoofed entry left of the real one", "10.0.0.2:4000", []string{"198.51.100.1, 203.0.113.7"}, 200},
		{"header lines are one list", "10.0.0.2:4000", []string{"198.51.100.1", "203.0.113.7"}, 200},
		{"last line wins over the first", "10.0.0.2:4000", []string{"203.0.113.7", "198.51.100.1"}, 403},
		{"unparseable entry", "10.0.0.2:4000", []string{"203.0.113.7, garbage"}, 403},
		{"empty entry", "10.0.0.2:4000", []string{"203.0.113.7, "}, 403},
		{"entry with a port", "10.0.0.2:4000", []string{"203.0.113.7:1234"}, 200},
		{"trusted proxy without the header is the caller", "10.0.0.2:4000", nil, 403},
		{"only trusted hops: the leftmost", "10.0.0.2:4000", []string{"10.1.1.1, 10.2.2.2"}, 403},
		{"too many hops", "10.0.0.2:4000", []string{strings.Repeat("10.1.1.1, ", 40) + "10.1.1.1"}, 403},
		{"unparseable peer", "not-an-address", nil, 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := []string{"Authorization", "Bearer " + secret}
			for _, v := range tc.xff {
				hdr = append(hdr, "X-Forwarded-For", v)
			}
			w := post(h, tc.remote, hdr...)
			assert.Equal(t, tc.want, w.Code, w.Body.String())
			if tc.want == 403 {
				assert.Equal(t, "ip_not_allowed", w.Header().Get("X-Llmgate-Error"))
			}
		})
	}
}

// A key without an allowlist is served whatever the address, even none
// (client mode).
func TestAuthWithoutAllowlistIgnoresTheAddress(t *testing.T) {
	secret, m := newKey("anywhere", "t")
	h := authHandler(t, must(cache.NewMemoryStore(m)), cache.AuthConfig{}, nil)
	assert.Equal(t, 200, post(h, "garbage", "Authorization", "Bearer "+secret).Code)
}

// The model check is the attempt boundary's, on the model sent: a key
// limited to gpt-4.1 asking gpt-4o-mini is refused with 403 before any
// provider sees it.
func TestAuthModelAllowlistIsCheckedOnTheModelSent(t *testing.T) {
	secret, m := newKey("narrow", "t")
	m.Models = []string{"gpt-4.1"}
	var s seen
	h := authHandler(t, must(cache.NewMemoryStore(m)), cache.AuthConfig{}, &s)
	w := post(h, "", "Authorization", "Bearer "+secret)
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.Equal(t, "model_not_allowed", w.Header().Get("X-Llmgate-Error"))
	assert.Empty(t, s.callers)
}

func TestAuthConfigValidate(t *testing.T) {
	store := must(cache.NewMemoryStore())
	_, err := cache.Auth(store, cache.AuthConfig{TrustedProxies: []netip.Prefix{{}, netip.MustParsePrefix("10.0.0.0/8"), {}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "TrustedProxies[0]")
	assert.Contains(t, err.Error(), "TrustedProxies[2]")
	assert.Panics(t, func() { _, _ = cache.Auth(nil, cache.AuthConfig{}) })
}
