package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/cache"
)

// Case 29 and the revocation half of case 28, through two running main
// jobs over one PostgreSQL store and one Redis: a key made through A's admin
// API while both run is accepted on B within 1 s, although B's Bloom filter
// was built before the key existed; a key revoked, disabled or re-enabled
// on A is refused or served accordingly on B within 1 s.
func TestRunKeysCreatedOnOneInstanceServedByAnother(t *testing.T) {
	dsn, schema := postgresDSN(t)
	redisAddr, prefix := redisForTest(t)
	adminKey := cache.NewSecret()
	t.Setenv("TEST_KEYS_DSN", dsn)
	t.Setenv("TEST_ADMIN_KEY", adminKey)
	keys := "keys:\n  store: postgres\n  admin_key: ${TEST_ADMIN_KEY}\n" +
		"  postgres: {dsn: \"${TEST_KEYS_DSN}\", schema: " + schema + "}\n" +
		"  redis: {addr: \"" + redisAddr + "\", prefix: \"" + prefix + "\"}\n"
	instance := func() *runningGateway { // each its own write-ahead log
		cfg := writeFile(t, "gateway.yaml", okProviders+"billing: {spill_dir: "+t.TempDir()+"}\n"+keys)
		return startGateway(t, "-config", cfg, "-addr", "127.0.0.1:0")
	}
	a, b := instance(), instance()
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	ctx := context.Background()
	status := func(g *runningGateway, secret string) int {
		client := sdk(t, g.base, secret)
		_, err := client.Chat.Completions.New(ctx, chatParams)
		var apiErr *openai.Error
		if errors.As(err, &apiErr) {
			return apiErr.StatusCode
		}
		require.NoError(t, err)
		return 200
	}
	within := func(g *runningGateway, secret string, want int) int {
		deadline := time.Now().Add(time.Second)
		got := status(g, secret)
		for got != want && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
			got = status(g, secret)
		}
		return got
	}
	admin := func(method, path, body string) (int, []byte) {
		req, _ := http.NewRequest(method, a.base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminKey)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}

	code, body := admin(http.MethodPost, "/admin/keys", `{"id":"fleet","tenant":"acme"}`)
	require.Equal(t, http.StatusCreated, code, string(body))
	var created struct{ Secret string }
	require.NoError(t, json.Unmarshal(body, &created))
	assert.Equal(t, 200, status(a, created.Secret), "on A at once")
	assert.Equal(t, 200, within(b, created.Secret, 200), "on B within 1 s")

	code, body = admin(http.MethodPost, "/admin/keys/fleet/revoke", "")
	require.Equal(t, http.StatusOK, code, string(body))
	assert.Equal(t, 401, status(a, created.Secret), "refused on A at once")
	assert.Equal(t, 401, within(b, created.Secret, 401), "refused on B within 1 s")

	// A key B holds as disabled is served there once it is enabled again.
	code, body = admin(http.MethodPost, "/admin/keys", `{"id":"fleet-2","tenant":"acme"}`)
	require.Equal(t, http.StatusCreated, code, string(body))
	require.NoError(t, json.Unmarshal(body, &created))
	code, _ = admin(http.MethodPost, "/admin/keys/fleet-2/disable", "")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, 401, within(b, created.Secret, 401), "disabled: refused on B")
	code, _ = admin(http.MethodPost, "/admin/keys/fleet-2/enable", "")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, 200, within(b, created.Secret, 200), "enabled again: served on B within 1 s")

	require.Equal(t, 0, a.stop())
	require.Equal(t, 0, b.stop())
}
