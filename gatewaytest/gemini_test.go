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

// The fake refuses what Gemini refuses, in Gemini's shape, so that an
// adapter's mistakes fail against it as they would against the real one.
func TestGeminiServerRefusesWhatGeminiRefuses(t *testing.T) {
	g, err := gatewaytest.NewGeminiServer(gatewaytest.GeminiConfig{APIKey: "k"})
	require.NoError(t, err)
	defer g.Close()
	send := func(path, key, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, g.BaseURL()+path, strings.NewReader(body))
		if key != "" {
			req.Header.Set("X-Goog-Api-Key", key)
		}
		resp, err := g.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	ok := `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`
	tests := []struct{ name, path, key, body, want string }{
		{"no key", "/models/m:generateContent", "", ok, "API_KEY_INVALID"},
		{"wrong key", "/models/m:generateContent", "x", ok, "API_KEY_INVALID"},
		{"empty contents", "/models/m:generateContent", "k", `{"contents":[]}`, "contents is not specified"},
		{"assistant is not a Gemini role", "/models/m:generateContent", "k", `{"contents":[{"role":"assistant","parts":[{"text":"x"}]}]}`, "role"},
		{"empty parts", "/models/m:generateContent", "k", `{"contents":[{"role":"user","parts":[]}]}`, "parts must not be empty"},
		{"unnamed function response", "/models/m:generateContent", "k", `{"contents":[{"role":"user","parts":[{"functionResponse":{"response":{}}}]}]}`, "name"},
		{"stream without alt=sse", "/models/m:streamGenerateContent", "k", ok, "alt=sse"},
		{"unknown method", "/models/m:predict", "k", ok, "unknown method"},
	}
	for _, tt := range tests {
		status, body := send(tt.path, tt.key, tt.body)
		assert.Contains(t, []int{400, 404}, status, tt.name)
		assert.Contains(t, body, tt.want, tt.name)
		assert.Contains(t, body, `"status":"`, tt.name)
	}
	// The key in the query is accepted, as Gemini does, and recorded, so a
	// test can catch an adapter that puts it there.
	status, _ := send("/models/m:generateContent?key=k", "", ok)
	assert.Equal(t, 200, status)
	reqs := g.Requests()
	assert.Equal(t, "key=k", reqs[len(reqs)-1].Query)
}

func TestNewGeminiServerValidates(t *testing.T) {
	for name, cfg := range map[string]gatewaytest.GeminiConfig{
		"no key":       {},
		"bad status":   {APIKey: "k", Faults: gatewaytest.GeminiFaults{Status: 200}},
		"negative cut": {APIKey: "k", Faults: gatewaytest.GeminiFaults{CutAfter: -1}},
		"huge dims":    {APIKey: "k", EmbeddingDims: 1 << 20},
	} {
		_, err := gatewaytest.NewGeminiServer(cfg)
		assert.Error(t, err, name)
	}
	g, err := gatewaytest.NewGeminiServer(gatewaytest.GeminiConfig{APIKey: "k"})
	require.NoError(t, err)
	defer g.Close()
	assert.Error(t, g.SetGeminiFaults(gatewaytest.GeminiFaults{Status: 99}))
}
