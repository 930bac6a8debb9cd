package cache_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/cache"
	"github.com/llmgate/gateway/gatewaytest"
)

// A gateway that serves only callers with a virtual key: the store holds
// the key's digest, never its secret.
func ExampleAuth() {
	secret := cache.NewSecret()
	store, err := cache.NewMemoryStore(cache.KeyMeta{ID: "team-a", Digest: cache.DigestOf(secret),
		Tenant: "acme", Models: []string{"gpt-4o*"}, Status: cache.StatusActive})
	if err != nil {
		panic(err)
	}
	auth, err := cache.Auth(store, cache.AuthConfig{})
	if err != nil {
		panic(err)
	}
	// AuthGuard refuses a caller with no valid key before its body is read.
	guard, err := cache.AuthGuard(store, cache.AuthConfig{})
	if err != nil {
		panic(err)
	}
	h := guard(gateway.NewHandler(gateway.Chain(gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{}), auth)))

	for _, key := range []string{secret, "sk-not-a-key"} {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer "+key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		fmt.Println(w.Code, gateway.ErrorFromResponse(w.Result()))
	}
	// Output:
	// 200 <nil>
	// 401 Incorrect API key provided
}
