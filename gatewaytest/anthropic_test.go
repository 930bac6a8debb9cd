package gatewaytest_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/gatewaytest"
)

func TestAnthropicFakeChecksWhatTheRealAPIChecks(t *testing.T) {
	a, err := gatewaytest.NewAnthropicServer(gatewaytest.AnthropicConfig{APIKey: "k", Thinking: "hmm"})
	require.NoError(t, err)
	defer a.Close()
	post := func(key, version, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, a.BaseURL()+"/v1/messages", strings.NewReader(body))
		req.Header.Set("X-Api-Key", key)
		if version != "" {
			req.Header.Set("Anthropic-Version", version)
		}
		resp, err := a.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const ok = `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
	for _, tc := range []struct {
		name, key, version, body, want string
		status                         int
	}{
		{"wrong key", "x", "2023-06-01", ok, "authentication_error", 401},
		{"no version", "k", "", ok, "anthropic-version", 400},
		{"no max_tokens", "k", "2023-06-01", `{"model":"c","messages":[]}`, "max_tokens: Field required", 400},
		{"unknown field", "k", "2023-06-01", `{"model":"c","max_tokens":5,"stream_options":{},"messages":[]}`, "stream_options: Extra inputs", 400},
		{"roles", "k", "2023-06-01", `{"model":"c","max_tokens":5,"messages":[{"role":"assistant","content":"x"}]}`, "alternate", 400},
		{"modified thinking", "k", "2023-06-01", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"},
			{"role":"assistant","content":[{"type":"thinking","thinking":"hmm!","signature":"forged"}]},{"role":"user","content":"y"}]}`, "invalid signature", 400},
		{"fine", "k", "2023-06-01", ok, `"type":"thinking"`, 200},
	} {
		status, body := post(tc.key, tc.version, tc.body)
		assert.Equal(t, tc.status, status, tc.name)
		assert.Contains(t, body, tc.want, tc.name)
	}
	assert.Error(t, a.SetAnthropicFaults(gatewaytest.AnthropicFaults{Status: 200}))
	assert.Error(t, a.SetAnthropicFaults(gatewaytest.AnthropicFaults{CutAfter: -1}))
	assert.Len(t, a.Requests(), 7)
}

// The two vendor fakes are built alike: an AnthropicServer is a Server, as
// a GeminiServer is, so socket faults and the request count work on it too.
func TestAnthropicServerHasTheServersSocketFaults(t *testing.T) {
	a, err := gatewaytest.NewAnthropicServer(gatewaytest.AnthropicConfig{})
	require.NoError(t, err)
	defer a.Close()
	require.NoError(t, a.SetFaults(gatewaytest.SocketFaults{ResetRate: 1}))
	req, _ := http.NewRequest(http.MethodPost, a.BaseURL()+"/v1/messages", strings.NewReader(`{}`))
	resp, err := a.Client().Do(req)
	if err == nil {
		resp.Body.Close()
	}
	assert.Error(t, err, "the connection is reset")
	assert.EqualValues(t, 1, a.Count())
	require.Len(t, a.Requests(), 1)
	assert.Equal(t, gatewaytest.FaultReset, a.Requests()[0].Fault)
	_, err = gatewaytest.NewAnthropicServer(gatewaytest.AnthropicConfig{Faults: gatewaytest.AnthropicFaults{Status: 99}})
	assert.Error(t, err, "invalid faults are an error, as NewGeminiServer's")
}
