package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/gatewaytest"
)

// The real-provider path end to end: a config file names an openai-type
// upstream (a Sim behind a loopback socket), with its key from the
// environment. The SDK's calls reach it with the configured key and header,
// never the caller's key, which is logged nowhere either.
func TestRunOpenAIUpstream(t *testing.T) {
	const upstreamKey, callerKey = "sk-upstream-configured-key", "sk-caller-virtual-key"
	up := gatewaytest.NewServer(gatewaytest.MustNewSim("upstream", gatewaytest.SimConfig{Models: []string{"gpt-4.1"}}))
	t.Cleanup(up.Close)
	t.Setenv("TEST_UPSTREAM_URL", up.BaseURL())
	t.Setenv("TEST_UPSTREAM_KEY", upstreamKey)
	cfg := writeFile(t, "gateway.yaml", `
listen: 127.0.0.1:0          # from the file: no -addr
providers:
  - name: upstream
    type: openai
    base_url: ${TEST_UPSTREAM_URL}
    api_key: ${TEST_UPSTREAM_KEY}
    headers: {OpenAI-Organization: org-test}
    models: [gpt-4.1]
router:
  targets:
    - provider: upstream
      model_map: {gpt-4o-mini: gpt-4.1}
`)
	g := startGateway(t, "-config", cfg)
	client := sdk(t, g.base, callerKey)
	ctx := context.Background()

	c, err := client.Chat.Completions.New(ctx, chatParams) // gpt-4o-mini, renamed by the target
	require.NoError(t, err)
	assert.Equal(t, gatewaytest.DefaultSimReply, c.Choices[0].Message.Content)
	assert.Equal(t, "gpt-4.1", c.Model)

	stream := client.Chat.Completions.NewStreaming(ctx, chatParams)
	var text strings.Builder
	for stream.Next() {
		if ch := stream.Current().Choices; len(ch) > 0 {
			text.WriteString(ch[0].Delta.Content)
		}
	}
	require.NoError(t, stream.Err())
	require.NoError(t, stream.Close())
	assert.Equal(t, gatewaytest.DefaultSimReply, text.String())

	reqs := modelCalls(up)
	require.Len(t, reqs, 2)
	for _, r := range reqs {
		assert.Equal(t, "/v1/chat/completions", r.Path)
		assert.Equal(t, "Bearer "+upstreamKey, r.Header.Get("Authorization"))
		assert.Equal(t, "org-test", r.Header.Get("OpenAI-Organization"))
		for k, v := range r.Header {
			assert.NotContains(t, strings.Join(v, " "), callerKey, "header %s", k)
		}
		assert.NotContains(t, string(r.Body), callerKey)
		assert.Contains(t, string(r.Body), `"model":"gpt-4.1"`)
	}

	require.Equal(t, 0, g.stop())
	logs := g.stderr.String()
	assert.Contains(t, logs, "served_by=upstream served_model=gpt-4.1")
	assert.NotContains(t, logs, upstreamKey)
	assert.NotContains(t, logs, callerKey)
}

// An upstream that answers with an error reaches the SDK as the same API
// error, after the retries the configuration allows.
func TestRunOpenAIUpstreamDown(t *testing.T) {
	sim := gatewaytest.MustNewSim("upstream", gatewaytest.SimConfig{Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{503}}, Seed: 1})
	up := gatewaytest.NewServer(sim)
	t.Cleanup(up.Close)
	t.Setenv("TEST_UPSTREAM_URL", up.BaseURL())
	cfg := writeFile(t, "gateway.yaml", `
providers:
  - {name: upstream, type: openai, base_url: "${TEST_UPSTREAM_URL}"}
retry: {max_attempts: 2, base_delay: 1ms, max_delay: 1ms}
`)
	g := startGateway(t, "-config", cfg, "-addr", "127.0.0.1:0")
	client := sdk(t, g.base, "sk-caller")
	_, err := client.Chat.Completions.New(context.Background(), chatParams)
	var apiErr *openai.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 503, apiErr.StatusCode)
	assert.Len(t, modelCalls(up), 2, "max_attempts: 2")
}

// Issue 8: an upstream's 401 names a fragment of the gateway's key; callers
// never see it unless the provider is configured with verbatim_errors.
func TestRunUpstreamErrorBodyVerbatimOnlyWhenConfigured(t *testing.T) {
	const leak = "Incorrect API key provided: sk-uppp****wxyz."
	fake := httptestServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":{"message":"`+leak+`","type":"invalid_request_error","code":"invalid_api_key"}}`)
	})
	t.Setenv("TEST_UPSTREAM_URL", fake+"/v1")
	for _, verbatim := range []bool{false, true} {
		cfg := writeFile(t, "gateway.yaml", fmt.Sprintf(`
providers:
  - {name: upstream, type: openai, base_url: "${TEST_UPSTREAM_URL}", verbatim_errors: %v}
`, verbatim))
		g := startGateway(t, "-config", cfg, "-addr", "127.0.0.1:0")
		resp, err := http.Post(g.base+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}`))
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		if verbatim {
			assert.Contains(t, string(b), leak)
		} else {
			assert.NotContains(t, string(b), "sk-uppp")
			assert.Contains(t, string(b), `"error"`)
		}
		require.Equal(t, 0, g.stop())
	}
}

func httptestServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}

// Review finding: retry.idempotent: idempotency_key behaved as none in
// server mode, since the header never reached the chain. A call whose
// first target resets its connection after the request was sent moves to
// the next target only when it carries an Idempotency-Key.
func TestRunIdempotencyKeyDecidesAResend(t *testing.T) {
	resetting := gatewaytest.NewServer(gatewaytest.MustNewSim("a", gatewaytest.SimConfig{Models: []string{"gpt-4.1"}}))
	t.Cleanup(resetting.Close)
	require.NoError(t, resetting.SetFaults(gatewaytest.SocketFaults{ResetRate: 1}))
	healthy := gatewaytest.NewServer(gatewaytest.MustNewSim("b", gatewaytest.SimConfig{Models: []string{"gpt-4.1"}}))
	t.Cleanup(healthy.Close)
	t.Setenv("TEST_A", resetting.BaseURL())
	t.Setenv("TEST_B", healthy.BaseURL())
	cfg := writeFile(t, "gateway.yaml", `
providers:
  - {name: a, type: openai, base_url: "${TEST_A}"}
  - {name: b, type: openai, base_url: "${TEST_B}"}
router:
  targets: [{provider: a}, {provider: b, tier: 1}]
retry: {idempotent: idempotency_key, max_attempts: 1}
`)
	g := startGateway(t, "-config", cfg, "-addr", "127.0.0.1:0")
	post := func(key string) int {
		req, err := http.NewRequest(http.MethodPost, g.base+"/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusBadGateway, post(""), "may have been acted on: not sent again")
	assert.Empty(t, modelCalls(healthy))
	assert.Equal(t, http.StatusOK, post("call-1"), "safe to send again")
	assert.Len(t, modelCalls(healthy), 1)
	http.DefaultClient.CloseIdleConnections()
}
