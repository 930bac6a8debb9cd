package metrics_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/metrics"
)

// 10,000 calls, each with a model name and a key id (and tenant) nobody
// configured: the series count after them is the count after the first
// hundred, and no key id or bogus model reaches /metrics.
func TestCardinalityStaysFlatUnderBogusModelsAndKeys(t *testing.T) {
	const calls = 10_000
	f := newFixture(t, metrics.Config{Models: []string{"gpt-4.1"}, Tenants: []string{"acme"}})
	send := func(i int) {
		req := httptest.NewRequest(http.MethodPost, "http://gateway.invalid/v1/chat/completions",
			strings.NewReader(chat(fmt.Sprintf("bogus-model-%d", i), "")))
		caller := gateway.Caller{KeyID: fmt.Sprintf("key-%d", i), Tenant: fmt.Sprintf("tenant-%d", i)}
		req = req.WithContext(gateway.WithCaller(req.Context(), caller))
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, req)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		f.mu.Lock()
		f.calls = f.calls[:0] // keep no call alive
		f.mu.Unlock()
	}
	for i := range 100 {
		send(i)
	}
	before := seriesCount(t, f.reg)
	for i := 100; i < calls; i++ { // bounded by count; each call is in-process, with no wait
		send(i)
	}
	assert.Equal(t, before, seriesCount(t, f.reg), "series count flat")

	w := httptest.NewRecorder()
	f.m.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := w.Body.String()
	assert.NotContains(t, body, "bogus-model")
	assert.NotContains(t, body, "key-")
	assert.NotContains(t, body, "tenant-")
	assert.Contains(t, body, `tenant="other"`)
	assert.Less(t, len(body), 64<<10, "/metrics stays small")
}
