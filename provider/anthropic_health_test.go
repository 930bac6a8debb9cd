package provider_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/provider"
)

var _ interface {
	HealthCheck(context.Context) error
} = (*provider.Anthropic)(nil)

// The probe is a GET of /v1/models with the configured key and version and
// nothing else; a failing answer or a refused connection is an error that
// holds no key.
func TestAnthropic_HealthCheck(t *testing.T) {
	var mu sync.Mutex
	var seen *http.Request
	status := http.StatusOK
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = r.Clone(context.Background())
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"data":[],"has_more":false}`))
	}))
	defer up.Close()
	p, err := provider.NewAnthropic(provider.AnthropicConfig{BaseURL: up.URL, APIKey: anthropicKey})
	require.NoError(t, err)
	defer p.CloseIdleConnections()

	require.NoError(t, p.HealthCheck(t.Context()))
	mu.Lock()
	assert.Equal(t, http.MethodGet, seen.Method)
	assert.Equal(t, "/v1/models", seen.URL.RequestURI())
	assert.Equal(t, anthropicKey, seen.Header.Get("X-Api-Key"))
	assert.NotEmpty(t, seen.Header.Get("Anthropic-Version"))
	assert.Empty(t, seen.Header.Get("Authorization"))
	status = http.StatusUnauthorized
	mu.Unlock()

	err = p.HealthCheck(t.Context())
	require.ErrorIs(t, err, gateway.ErrUpstream)
	assert.Contains(t, err.Error(), "401")
	assert.NotContains(t, err.Error(), anthropicKey)

	refused, err := provider.NewAnthropic(provider.AnthropicConfig{BaseURL: "http://" + closedAddr(t), APIKey: anthropicKey})
	require.NoError(t, err)
	err = refused.HealthCheck(t.Context())
	require.Error(t, err)
	assert.NotContains(t, err.Error(), anthropicKey)
}
