package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/provider"
)

// The access log is the handler's observer: exactly one line per request the
// gateway receives, those refused before they are parsed included, each
// naming its call (the id the caller got in X-Request-Id). The health check
// is no call and logs nothing. No key and no body reaches the log.
func TestAccessLogObservesEachCall(t *testing.T) {
	a, logs := loggedGateway(t, `
providers:
  - {name: bad, type: sim, models: [m], sim: {seed: 1, faults: {error_rate: 1, error_statuses: [500]}}}
  - {name: good, type: sim, models: [m], sim: {seed: 2, reply: "a quiet reply"}}
router:
  targets:
    - {provider: bad}
    - {provider: good, tier: 1}
retry: {max_attempts: 1}
`)

	const key, prompt = "sk-caller-secret-key", "a private prompt"
	messages := `"messages":[{"role":"user","content":"` + prompt + `"}]`
	requests := []struct {
		method, path, body string
		want               map[string]any // fields of its log line; nil: no call, no line
	}{
		{"POST", "/v1/chat/completions", `{"model":"m",` + messages + `}`, map[string]any{
			"op": "chat", "status": 200.0, "model": "m", "stream": false, "served_by": "good", "served_model": "m",
			"attempts": "bad:500 good:200", "completion_tokens": 16.0, "estimated": false}},
		{"POST", "/v1/chat/completions", `{"model":"m","stream":true,` + messages + `}`, map[string]any{
			"op": "chat", "status": 200.0, "model": "m", "stream": true, "served_by": "good", "served_model": "m",
			"attempts": "bad:500 good:200", "completion_tokens": 16.0, "estimated": false}},
		{"GET", "/v1/models", "", map[string]any{"op": "models", "status": 200.0}},
		{"POST", "/v1/chat/completions", `{"model":"no-such-model",` + messages + `}`, map[string]any{
			"op": "chat", "status": 404.0, "model": "no-such-model", "served_by": "", "attempts": "", "error": "model_not_found"}},
		// A refusal that reached no provider made no attempt, whatever the operation.
		{"POST", "/v1/chat/completions", `{"model":"no-such-model","stream":true,` + messages + `}`, map[string]any{
			"op": "chat", "status": 404.0, "model": "no-such-model", "stream": true, "attempts": "", "error": "model_not_found"}},
		{"POST", "/v1/completions", `{"model":"no-such-model","prompt":"hi"}`, map[string]any{
			"op": "completion", "status": 404.0, "model": "no-such-model", "attempts": "", "error": "model_not_found"}},
		{"POST", "/v1/embeddings", `{"model":"no-such-model","input":"hi"}`, map[string]any{
			"op": "embedding", "status": 404.0, "model": "no-such-model", "attempts": "", "error": "model_not_found"}},
		{"POST", "/v1/nope", `{}`, map[string]any{"op": "unknown", "status": 404.0, "error": "unknown_url"}},
		{"POST", "/v1/chat/completions", `{"model":"m",` + messages, map[string]any{"op": "chat", "status": 400.0}},
		{"GET", "/healthz", "", nil},
	}
	var ids []string
	for _, r := range requests {
		req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, req)
		if r.want != nil {
			assert.Equal(t, int(r.want["status"].(float64)), rec.Code, "%s %s: %s", r.method, r.path, rec.Body)
			ids = append(ids, rec.Header().Get("X-Request-Id"))
		}
	}

	lines := strings.Split(strings.TrimSuffix(logs.String(), "\n"), "\n")
	require.Len(t, lines, len(ids), "one line per call:\n%s", logs.String())
	i, seen := 0, map[any]bool{}
	for _, r := range requests {
		if r.want == nil {
			continue
		}
		var got map[string]any
		require.NoError(t, json.Unmarshal([]byte(lines[i]), &got), lines[i])
		assert.Equal(t, "request", got["msg"], lines[i])
		require.NotEmpty(t, got["id"], lines[i])
		assert.NotContains(t, seen, got["id"], "each line is a call of its own")
		seen[got["id"]] = true
		assert.Equal(t, ids[i], got["id"], "the line of %s %s is its call's (X-Request-Id)", r.method, r.path)
		assert.Contains(t, got, "dur", lines[i])
		for k, v := range r.want {
			assert.Equal(t, v, got[k], "%s in %s", k, lines[i])
		}
		if r.want["status"] == 200.0 && r.want["op"] == "chat" {
			assert.Positive(t, got["prompt_tokens"], lines[i])
		}
		if r.want["status"].(float64) >= 400 {
			assert.NotEmpty(t, got["error"], "a failed call logs its error's code: %s", lines[i])
		} else {
			assert.NotContains(t, got, "error", lines[i])
		}
		i++
	}
	assert.NotContains(t, logs.String(), key)
	assert.NotContains(t, logs.String(), prompt)
	assert.NotContains(t, logs.String(), "quiet reply")
}

// loggedGateway builds the gateway of yaml with its access log going to
// logs, as JSON lines; it is closed with the test.
func loggedGateway(t *testing.T, yaml string) (*Gateway, *bytes.Buffer) {
	t.Helper()
	cfg, err := Parse("t.yaml", []byte(yaml), env{}.lookup)
	require.NoError(t, err)
	logs := new(bytes.Buffer)
	a, err := Build(cfg, Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	require.NoError(t, err)
	t.Cleanup(a.Close)
	return a, logs
}

// goneWriter is the ResponseWriter of a caller that left after the status
// line: every write of the body fails, as on a closed connection.
type goneWriter struct {
	h      http.Header
	status int
}

func (w *goneWriter) Header() http.Header       { return w.h }
func (w *goneWriter) WriteHeader(status int)    { w.status = status }
func (w *goneWriter) Write([]byte) (int, error) { return 0, syscall.EPIPE }
func (w *goneWriter) FlushError() error         { return syscall.EPIPE }

// A caller that left before its answer was written is logged as a 499, even
// when a fast provider's whole answer was read before the gateway wrote it.
func TestAccessLogCallerGoneBeforeDeliveryIs499(t *testing.T) {
	a, logs := loggedGateway(t, "providers:\n  - {name: fast, type: sim, models: [m], sim: {completion_tokens: 2}}\n")
	for _, body := range []string{`{"model":"m","stream":true,"messages":[]}`, `{"model":"m","messages":[]}`} {
		logs.Reset()
		w := &goneWriter{h: http.Header{}}
		a.Handler().ServeHTTP(w, httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(body)))
		require.Equal(t, 200, w.status, "the status line went out")
		var got map[string]any
		require.NoError(t, json.Unmarshal(logs.Bytes(), &got), logs.String())
		assert.Equal(t, 499.0, got["status"], body)
		assert.Equal(t, "client_closed", got["error"], body)
	}
}

// A call that failed upstream logs why, beside its code: the transport's
// reason (here a refused connection) is what tells an operator a dead port
// from a reset or a timeout, which the caller's 502 does not say. The key
// stays out of it.
func TestAccessLogSaysWhyAnUpstreamFailed(t *testing.T) {
	const upKey = "sk-upstream-secret-key-0123456789"
	a, logs := loggedGateway(t, `
providers:
  - {name: dead, type: openai, base_url: "http://`+closedPort(t)+`/v1", api_key: `+upKey+`, models: [m]}
retry: {max_attempts: 1}
`)
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(`{"model":"m","messages":[]}`)))
	require.Equal(t, http.StatusBadGateway, rec.Code, rec.Body.String())
	assert.NotContains(t, rec.Body.String(), "refused", "the caller gets the gateway's message")
	var got map[string]any
	require.NoError(t, json.Unmarshal(logs.Bytes(), &got), logs.String())
	assert.Equal(t, "upstream_error", got["error"])
	assert.Contains(t, got["cause"], "connection refused", logs.String())
	assert.NotContains(t, logs.String(), upKey)

	// A caller's fault logs its code alone: its message may repeat what the
	// caller sent.
	logs.Reset()
	a.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(`{"model":"m","messages":[}`)))
	require.NoError(t, json.Unmarshal(logs.Bytes(), &got), logs.String())
	assert.Equal(t, 400.0, got["status"])
	assert.NotContains(t, logs.String(), `"cause"`)
}

// The cause is what the provider chose to say: its transport's error,
// scrubbed of the key, and not the raw error under it, which a custom
// transport (or a proxy's answer) may fill with the request's headers.
func TestAccessLogCauseKeepsTheProvidersScrub(t *testing.T) {
	const upKey = "sk-upstream-secret-key-0123456789"
	p, err := provider.NewOpenAI(provider.OpenAIConfig{Name: "up", BaseURL: "http://127.0.0.1:9/v1", APIKey: upKey,
		Transport: gateway.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
			return nil, errors.New("proxy refused Authorization: " + r.Header.Get("Authorization"))
		})})
	require.NoError(t, err)
	var logs bytes.Buffer
	h := gateway.NewHandler(p, gateway.WithObserver(accessLogger(slog.New(slog.NewJSONHandler(&logs, nil)))))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(`{"model":"m","messages":[]}`)))
	var got map[string]any
	require.NoError(t, json.Unmarshal(logs.Bytes(), &got), logs.String())
	assert.Contains(t, got["cause"], "proxy refused Authorization: Bearer [REDACTED]")
	assert.NotContains(t, logs.String(), upKey)
}
