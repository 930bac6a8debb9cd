package cache_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/cache"
)

// BenchmarkAuthHit is a server-mode call end to end (NewHandler, the
// parse, a provider that answers at once, the response written) without
// Auth and with it, on a key the lookup holds (a map-backed cache: the hit
// path), so that the difference is what authentication costs a call;
// "guard+auth" adds AuthGuard in front, as the main job runs it.
func BenchmarkAuthHit(b *testing.B) {
	secret, m := newKey("bench", "t")
	withIPs := m
	withIPs.ID, withIPs.IPs = "bench-ips", []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	ipSecret := cache.NewSecret()
	withIPs.Digest = cache.DigestOf(ipSecret)
	keys := newMapCache(must(cache.NewMemoryStore(m, withIPs)))
	cfg := cache.AuthConfig{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	auth, _ := cache.Auth(keys, cfg)
	guard, _ := cache.AuthGuard(keys, cfg)
	for _, bc := range []struct {
		name   string
		h      http.Handler
		secret string
		xff    string
	}{
		{"bare", gateway.NewHandler(recorder{}), "", ""},
		{"auth", gateway.NewHandler(gateway.Chain(recorder{}, auth)), secret, ""},
		{"auth+ip_allowlist+xff", gateway.NewHandler(gateway.Chain(recorder{}, auth)), ipSecret, "192.0.2.7"},
		{"guard+auth", guard(gateway.NewHandler(gateway.Chain(recorder{}, auth))), secret, ""}, // as the main job
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			body := strings.NewReader(chatBody)
			req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", body)
			req.Header.Set("Content-Type", "application/json")
			req.RemoteAddr = "10.0.0.1:1234"
			if bc.secret != "" {
				req.Header.Set("Authorization", "Bearer "+bc.secret)
			}
			if bc.xff != "" {
				req.Header.Set("X-Forwarded-For", bc.xff)
			}
			w := &discardWriter{h: http.Header{}}
			for b.Loop() {
				body.Reset(chatBody)
				req.Body = io.NopCloser(body)
				clear(w.h)
				w.code = 0
				bc.h.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}

type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkAuthMiddleware is the Auth middleware alone on a hit (the
// credential read, the digest, the lookup, the compare, the Caller set and
// the request copy without the key), over a next that answers at once:
// "map" looks keys up in a map-backed stand-in, "metadata-cache" in the
// metadata cache (cache.New over the store), as the main job does.
func BenchmarkAuthMiddleware(b *testing.B) {
	secret, m := newKey("bench", "t")
	store := must(cache.NewMemoryStore(m))
	keys, err := cache.New[cache.Digest, cache.KeyMeta](cache.StoreLoader{Store: store}, cache.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer keys.Close()
	for _, bc := range []struct {
		name string
		keys cache.KeyLookup
	}{{"map", newMapCache(store)}, {"metadata-cache", keys}} {
		b.Run(bc.name, func(b *testing.B) {
			auth, _ := cache.Auth(bc.keys, cache.AuthConfig{})
			var captured *http.Request
			grab := gateway.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
				captured = r
				return recorder{}.RoundTrip(r)
			})
			req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(chatBody))
			req.Header.Set("Authorization", "Bearer "+secret)
			gateway.NewHandler(grab).ServeHTTP(&discardWriter{h: http.Header{}}, req) // a request with a Call, as Auth gets it
			resp := &http.Response{StatusCode: 200, Body: http.NoBody}
			rt := auth(gateway.RoundTripperFunc(func(*http.Request) (*http.Response, error) { return resp, nil }))
			b.ReportAllocs()
			for b.Loop() {
				captured.Body = http.NoBody
				if _, err := rt.RoundTrip(captured); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
