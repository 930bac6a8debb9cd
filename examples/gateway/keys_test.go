package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/cache"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/internal/servicetest"
)

// The embedded default requires a key: the official SDK gets a 401 in the
// OpenAI shape with a bad key or none, and is served with the demo key the
// banner printed (and used in its curl lines), whose id and tenant are
// "demo"; the key is in no log line.
func TestRunEmbeddedDefaultRequiresTheDemoKey(t *testing.T) {
	g := startGateway(t, "-addr", "127.0.0.1:0")
	require.NotEmpty(t, g.key, "the banner prints the demo key:\n%s", g.stdout)
	assert.True(t, strings.HasPrefix(g.key, cache.SecretPrefix))
	assert.Contains(t, g.stdout.String(), "curl -s "+g.base+"/v1/chat/completions -H 'Authorization: Bearer "+g.key+"'")
	assert.Contains(t, g.stdout.String(), "curl -s "+g.base+"/v1/models -H 'Authorization: Bearer "+g.key+"'")
	ctx := context.Background()

	// The message is what a caller of OpenAI reads (no package prefix):
	// "Incorrect API key provided" for a wrong key, "You didn't provide an
	// API key" for none.
	for key, msg := range map[string]string{"sk-wrong": "Incorrect API key provided",
		cache.NewSecret(): "Incorrect API key provided", "": "You didn't provide an API key"} {
		client := sdk(t, g.base, key)
		_, err := client.Chat.Completions.New(ctx, chatParams)
		var apiErr *openai.Error
		require.True(t, errors.As(err, &apiErr), "%v", err)
		assert.Equal(t, http.StatusUnauthorized, apiErr.StatusCode)
		assert.Equal(t, "invalid_api_key", apiErr.Code)
		assert.True(t, strings.HasPrefix(apiErr.Message, msg), "%q", apiErr.Message)
		assert.NotContains(t, apiErr.Message, "cache:")
		assert.True(t, errors.Is(gateway.ErrorFromResponse(apiErr.Response), cache.ErrUnauthorized))
	}
	client := sdk(t, g.base, g.key)
	c, err := client.Chat.Completions.New(ctx, chatParams)
	require.NoError(t, err)
	assert.True(t, isSimReply(c.Choices[0].Message.Content))

	require.Equal(t, 0, g.stop())
	assert.NotContains(t, g.stderr.String(), g.key)
	assert.Contains(t, g.stderr.String(), "error=invalid_api_key")
}

// A keys section with the memory store, an admin key and a trusted proxy:
// a listed key (by digest) is served, with its model allowlist checked on
// the model the target is sent (after its model map); a key made through
// the admin API works at once and is refused at once once revoked; the
// upstream sees none of the callers' keys.
func TestRunKeysMemoryStoreAndAdminAPI(t *testing.T) {
	up := gatewaytest.NewServer(gatewaytest.MustNewSim("upstream", gatewaytest.SimConfig{}))
	t.Cleanup(up.Close)
	listed, narrow, adminKey := cache.NewSecret(), cache.NewSecret(), cache.NewSecret()
	t.Setenv("TEST_UPSTREAM_URL", up.BaseURL())
	t.Setenv("TEST_ADMIN_KEY", adminKey)
	cfg := writeFile(t, "gateway.yaml", `
providers:
  - {name: upstream, type: openai, base_url: "${TEST_UPSTREAM_URL}", api_key: sk-upstream}
router:
  targets:
    - {provider: upstream, models: [gpt-4.1, o1], model_map: {gpt-4o-mini: gpt-4.1}}
keys:
  store: memory
  admin_key: ${TEST_ADMIN_KEY}
  trusted_proxies: [127.0.0.1]
  memory:
    - {id: team-a, digest: "`+cache.DigestOf(listed).String()+`", tenant: acme, priority: 2, models: ["gpt-4.*"], limits: {rpm: 60}, budget: {limit_usd: 5, period: day}}
    - {id: narrow, digest: "`+cache.DigestOf(narrow).String()+`", tenant: acme, models: [gpt-4o-mini], ips: [203.0.113.0/24]}
`)
	g := startGateway(t, "-config", cfg, "-addr", "127.0.0.1:0")
	assert.Empty(t, g.key, "no demo key")
	assert.Contains(t, g.stdout.String(), "admin API: "+g.base+"/admin/keys")
	ctx := context.Background()

	client := sdk(t, g.base, listed)
	_, err := client.Chat.Completions.New(ctx, chatParams) // gpt-4o-mini, sent as gpt-4.1
	require.NoError(t, err)
	// /v1/models lists only what the key may call: o1 is not gpt-4.*, and
	// gpt-4o-mini is sent as gpt-4.1.
	models, err := client.Models.List(ctx)
	require.NoError(t, err)
	var ids []string
	for _, m := range models.Data {
		ids = append(ids, m.ID)
	}
	assert.Equal(t, []string{"gpt-4.1", "gpt-4o-mini"}, ids)

	// narrow may use gpt-4o-mini, but the target is sent gpt-4.1 (case 32),
	// and it may be used only from 203.0.113.0/24 (case 33): from the
	// trusted proxy at 127.0.0.1 forwarding for 203.0.113.9 it gets past
	// the IP check and is refused on the model.
	call := func(key, xff string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, g.base+"/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer "+key)
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("X-Llmgate-Error")
	}
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	status, code := call(narrow, "")
	assert.Equal(t, 403, status)
	assert.Equal(t, "ip_not_allowed", code)
	status, code = call(narrow, "203.0.113.9")
	assert.Equal(t, 403, status)
	assert.Equal(t, "model_not_allowed", code)

	// The admin API: create, use, revoke.
	admin := func(method, path, body string) (int, []byte) {
		req, _ := http.NewRequest(method, g.base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminKey)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	status, body := admin(http.MethodPost, "/admin/keys", `{"id":"made","tenant":"acme"}`)
	require.Equal(t, http.StatusCreated, status, string(body))
	var created struct{ Secret string }
	require.NoError(t, json.Unmarshal(body, &created))
	status, _ = call(created.Secret, "")
	assert.Equal(t, 200, status)
	status, _ = admin(http.MethodPost, "/admin/keys/made/revoke", "")
	require.Equal(t, 200, status)
	status, code = call(created.Secret, "")
	assert.Equal(t, 401, status, "revoked: refused at once")
	assert.Equal(t, "invalid_api_key", code)
	status, _ = admin(http.MethodGet, "/admin/keys", "")
	assert.Equal(t, 200, status)
	req, _ := http.NewRequest(http.MethodGet, g.base+"/admin/keys", nil)
	req.Header.Set("Authorization", "Bearer "+listed)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 401, resp.StatusCode, "a virtual key is no admin key")

	for _, r := range up.Requests() {
		for k, v := range r.Header {
			for _, secret := range []string{listed, narrow, adminKey, created.Secret} {
				assert.NotContains(t, strings.Join(v, " "), secret, "header %s", k)
			}
		}
		assert.NotContains(t, string(r.Body), listed)
	}
	require.Equal(t, 0, g.stop())
	assert.Contains(t, g.stderr.String(), "msg=admin method=POST path=/admin/keys/made/revoke status=200", "the admin's changes are logged")
	for _, secret := range []string{listed, narrow, adminKey, created.Secret} {
		assert.NotContains(t, g.stderr.String(), secret)
	}
}

// keysCmd runs the keys subcommand and returns its status and output.
func keysCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"keys"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// With the memory store the keys live in the file: create prints the
// secret once and the entry to add, which the gateway then serves; the
// other changes are refused, to be made in the file.
func TestKeysCommandMemoryStore(t *testing.T) {
	code, out, stderr := keysCmd(t, "create", "-id", "team-b", "-tenant", "acme", "-models", "gpt-4o*, o1", "-limit", "rpm=30", "-budget-usd", "2.5", "-budget-period", "month")
	require.Equal(t, 0, code, stderr)
	secret := regexp.MustCompile(`secret: (\S+)`).FindStringSubmatch(out)
	require.NotNil(t, secret, out)
	entry := out[strings.Index(out, "  - id:"):]
	assert.Contains(t, entry, `digest: "`+cache.DigestOf(secret[1]).String()+`"`)
	assert.NotContains(t, entry, secret[1])

	cfg := writeFile(t, "gateway.yaml", okProviders+"keys:\n  memory:\n"+entry)
	g := startGateway(t, "-config", cfg, "-addr", "127.0.0.1:0")
	client := sdk(t, g.base, secret[1])
	_, err := client.Chat.Completions.New(context.Background(), chatParams)
	require.NoError(t, err)
	require.Equal(t, 0, g.stop())

	code, out, _ = keysCmd(t, "list", "-config", cfg)
	require.Equal(t, 0, code)
	var m cache.KeyMeta
	require.NoError(t, json.Unmarshal([]byte(out), &m))
	assert.Equal(t, "team-b", m.ID)
	assert.Equal(t, []string{"gpt-4o*", "o1"}, m.Models)
	assert.Equal(t, map[string]int64{"rpm": 30}, m.Limits)
	assert.Equal(t, gateway.Budget{Limit: 2_500_000_000, Period: "month"}, m.Budget)

	code, _, stderr = keysCmd(t, "revoke", "team-b", "-config", cfg)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "change keys.memory there")
	for _, bad := range [][]string{{}, {"explode"}, {"revoke"}, {"create", "extra"}, {"create", "-ips", "nowhere"}} {
		code, _, _ := keysCmd(t, bad...)
		assert.Equal(t, 2, code, "%v", bad)
	}
}

// postgresDSN returns the test database's DSN and a schema of this test's
// own, dropped at its end (servicetest).
func postgresDSN(t *testing.T) (string, string) {
	t.Helper()
	pool := servicetest.Postgres(t)
	return servicetest.PostgresDSN(), servicetest.Schema(t, pool, "mainjob_test")
}

// The PostgreSQL store through the main job: the keys subcommand creates a
// key, the gateway serves it, the subcommand disables, re-enables and
// revokes it, and each change holds at the next call.
func TestRunKeysPostgresStore(t *testing.T) {
	dsn, schema := postgresDSN(t)
	t.Setenv("TEST_KEYS_DSN", dsn)
	// With Redis, a change the keys subcommand makes reaches the running
	// gateway at once (it tells every instance's metadata cache).
	redisAddr, prefix := redisForTest(t)
	cfg := writeFile(t, "gateway.yaml", okProviders+"keys:\n  store: postgres\n  postgres: {dsn: \"${TEST_KEYS_DSN}\", schema: "+schema+"}\n"+
		"  redis: {addr: \""+redisAddr+"\", prefix: \""+prefix+"\"}\n")
	code, out, stderr := keysCmd(t, "create", "-config", cfg, "-id", "pg-team", "-tenant", "acme")
	require.Equal(t, 0, code, stderr)
	secret := regexp.MustCompile(`secret: (\S+)`).FindStringSubmatch(out)
	require.NotNil(t, secret, out)

	g := startGateway(t, "-config", cfg, "-addr", "127.0.0.1:0")
	assert.Contains(t, g.stdout.String(), "keys: required")
	client := sdk(t, g.base, secret[1])
	ctx := context.Background()
	served := func() int {
		_, err := client.Chat.Completions.New(ctx, chatParams)
		var apiErr *openai.Error
		if errors.As(err, &apiErr) {
			return apiErr.StatusCode
		}
		require.NoError(t, err)
		return 200
	}
	assert.Equal(t, 200, served())
	for _, step := range []struct {
		verb string
		want int
	}{{"disable", 401}, {"enable", 200}, {"update", 403}, {"revoke", 401}} {
		args := []string{step.verb, "pg-team", "-config", cfg}
		if step.verb == "update" {
			args = append(args, "-models", "o1")
		}
		code, out, stderr := keysCmd(t, args...)
		require.Equal(t, 0, code, "%s: %s", step.verb, stderr)
		assert.Contains(t, out, `"id":"pg-team"`)
		deadline := time.Now().Add(time.Second)
		for served() != step.want && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		assert.Equal(t, step.want, served(), "within 1 s after %s", step.verb)
	}
	code, _, stderr = keysCmd(t, "enable", "pg-team", "-config", cfg)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "revoked")
	require.Equal(t, 0, g.stop())
	assert.NotContains(t, g.stderr.String(), secret[1])
}

// Case 31 and invariant 5: the usage records name the key by its id and
// tenant, and neither they nor the logs hold the key; a key's own budget
// reaches the Meter (402 once it is spent).
func TestRunKeysReachTheRecordsByIDOnly(t *testing.T) {
	secret := cache.NewSecret()
	records := t.TempDir() + "/usage.jsonl"
	cfg := writeFile(t, "gateway.yaml", okProviders+`
billing:
  sinks: {jsonl: {path: `+records+`}}
keys:
  memory:
    - {id: team-a, digest: "`+cache.DigestOf(secret).String()+`", tenant: acme}
    - {id: poor, digest: "`+cache.DigestOf(secret+"-poor").String()+`", tenant: acme, budget: {limit_usd: 0.000000001}}
`)
	g := startGateway(t, "-config", cfg, "-addr", "127.0.0.1:0")
	p := chatParams
	p.Model = "gpt-4o-mini" // priced, so that a budget can be held
	client := sdk(t, g.base, secret)
	_, err := client.Chat.Completions.New(context.Background(), p)
	require.NoError(t, err)
	poor := sdk(t, g.base, secret+"-poor")
	_, err = poor.Chat.Completions.New(context.Background(), p)
	var apiErr *openai.Error
	require.True(t, errors.As(err, &apiErr), "%v", err)
	assert.Equal(t, http.StatusPaymentRequired, apiErr.StatusCode, "the key's own budget is the Meter's")
	require.Equal(t, 0, g.stop())

	b, err := os.ReadFile(records)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"key_id":"team-a"`)
	assert.Contains(t, string(b), `"tenant":"acme"`)
	assert.NotContains(t, string(b), secret)
	assert.NotContains(t, string(b), cache.DigestOf(secret).String()[7:], "nor its digest")
	assert.NotContains(t, g.stderr.String(), secret)
}
