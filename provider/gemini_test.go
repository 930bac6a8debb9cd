package provider_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/provider"
	"github.com/llmgate/gateway/router"
)

var (
	_ gateway.Provider    = (*provider.Gemini)(nil)
	_ gateway.ModelLister = (*provider.Gemini)(nil)
)

// post sends an OpenAI-format call through the client-mode entry point.
func post(t *testing.T, rt http.RoundTripper, path, body string) *http.Response {
	t.Helper()
	resp, err := gateway.NewClient(rt).Post("http://gateway.invalid"+path, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

const geminiChatBody = `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"Hi"}]}`

// Gemini's error answers classify as they mean for breakers and routers,
// reach callers in OpenAI's shape without account details, and say when to
// come back.
func TestGemini_ErrorsClassifyAndAreRedacted(t *testing.T) {
	tests := []struct {
		name       string
		faults     gatewaytest.GeminiFaults
		status     int
		class      breaker.Class
		retryAfter string
	}{
		{"429 with RetryInfo", gatewaytest.GeminiFaults{Status: 429, RetryDelay: 19500 * time.Millisecond}, 429, breaker.RateLimited, "20"},
		{"503 unavailable", gatewaytest.GeminiFaults{Status: 503}, 503, breaker.Overloaded, ""},
		{"500 internal", gatewaytest.GeminiFaults{Status: 500}, 500, breaker.Retryable, ""},
		{"504 deadline", gatewaytest.GeminiFaults{Status: 504}, 504, breaker.Retryable, ""},
		{"400 API_KEY_INVALID is the target's fault", gatewaytest.GeminiFaults{Status: 401}, 401, breaker.Fatal, ""},
		{"a plain 400 is the caller's", gatewaytest.GeminiFaults{Status: 400}, 400, breaker.Fatal, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, p := geminiFixture(t, gatewaytest.GeminiConfig{Faults: tt.faults})
			resp := post(t, p, "/v1/chat/completions", geminiChatBody)
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Equal(t, tt.class, breaker.Classify(nil, resp, nil))
			assert.Equal(t, tt.status == 401, breaker.IsTargetFault(resp, nil))
			assert.Equal(t, tt.retryAfter, resp.Header.Get("Retry-After"))
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Contains(t, string(body), `{"error":{"message":`)
			assert.NotContains(t, string(body), geminiKey)
			assert.Nil(t, gateway.ErrorFromResponse(resp), "an upstream's answer, not the gateway's refusal")
		})
	}
}

// The key travels in a header: no error text holds it, whatever fails.
func TestGemini_TransportErrorHidesKey(t *testing.T) {
	p, err := provider.NewGemini(provider.GeminiConfig{BaseURL: "http://" + closedAddr(t) + "/v1beta", APIKey: geminiKey})
	require.NoError(t, err)
	for _, stream := range []bool{false, true} {
		_, err := p.RoundTrip(withCall(t, mustRequest(t, `{"model":"gemini-2.5-flash","stream":`+map[bool]string{true: "true", false: "false"}[stream]+`,"messages":[]}`)))
		require.Error(t, err)
		assert.NotContains(t, err.Error(), geminiKey)
	}
}

func mustRequest(t *testing.T, body string) *http.Request {
	req, err := http.NewRequest(http.MethodPost, "http://gateway.invalid/v1/chat/completions", strings.NewReader(body))
	require.NoError(t, err)
	return req
}

// A stream Gemini cuts after content ends in an error for openai-go in
// both modes (a terminal error event from a gateway server), never in a
// finish_reason or [DONE]; one cut before content fails over.
func TestGemini_StreamCutMidwayIsAnError(t *testing.T) {
	for _, errorEvent := range []bool{false, true} {
		_, p := geminiFixture(t, gatewaytest.GeminiConfig{Faults: gatewaytest.GeminiFaults{CutStreams: true, CutAfter: 3, ErrorEvent: errorEvent}})
		for mode, client := range geminiClients(t, p, nil) {
			stream := client.Chat.Completions.NewStreaming(context.Background(), geminiChat())
			var text strings.Builder
			finished := false
			for i := 0; i < maxChunks && stream.Next(); i++ {
				for _, ch := range stream.Current().Choices {
					text.WriteString(ch.Delta.Content)
					finished = finished || ch.FinishReason != ""
				}
			}
			assert.Error(t, stream.Err(), "%s, error event %v", mode, errorEvent)
			assert.False(t, finished)
			assert.Equal(t, "This is a", text.String())
			stream.Close()
		}
	}
}

func TestGemini_StreamFailsOverBeforeContent(t *testing.T) {
	up, p := geminiFixture(t, gatewaytest.GeminiConfig{Faults: gatewaytest.GeminiFaults{CutStreams: true, CutAfter: 0, ErrorEvent: true}})
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	rt, err := router.New("r", []router.Target{{Provider: p, Weight: 1}, {Provider: sim, Weight: 1, Tier: 1}}, router.Config{})
	require.NoError(t, err)
	var calls []*gateway.Call
	for mode, client := range geminiClients(t, rt, &calls) {
		stream := client.Chat.Completions.NewStreaming(context.Background(), geminiChat())
		var acc openai.ChatCompletionAccumulator
		for i := 0; i < maxChunks && stream.Next(); i++ {
			acc.AddChunk(stream.Current())
		}
		require.NoError(t, stream.Err(), mode)
		stream.Close()
		assert.Equal(t, sim.ReplyText(0), acc.Choices[0].Message.Content, mode)
		atts := calls[len(calls)-1].Attempts()
		require.Len(t, atts, 2, mode)
		assert.Equal(t, "gemini", atts[0].Target)
		assert.Equal(t, "stream_failed_before_content", atts[0].Err)
	}
	assert.EqualValues(t, 2, up.Count())
}

func TestGemini_ModelsAndUnsupportedOperations(t *testing.T) {
	_, p := geminiFixture(t, gatewaytest.GeminiConfig{Models: []string{"gemini-2.5-pro", "gemini-embedding-001"}})
	client := sdkClient(p)
	page, err := client.Models.List(context.Background())
	require.NoError(t, err)
	require.Len(t, page.Data, 2)
	assert.Equal(t, "gemini-2.5-pro", page.Data[0].ID)
	assert.Equal(t, "google", page.Data[0].OwnedBy)

	resp := post(t, p, "/v1/completions", `{"model":"gemini-2.5-pro","prompt":"hi"}`)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp = post(t, p, "/v1/responses", `{"model":"gemini-2.5-pro","input":"hi"}`)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	// A model cannot climb out of its path segment.
	for _, m := range []string{"../../files", "a/b", "x?key=1", "%2e%2e"} {
		resp = post(t, p, "/v1/chat/completions", `{"model":"`+m+`","messages":[{"role":"user","content":"Hi"}]}`)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, m)
	}
}

// The ModelMap renames on the way upstream, and the attempt records the
// model sent; "models/" names work as Gemini's own.
func TestGemini_ModelMapAndPath(t *testing.T) {
	up, err := gatewaytest.NewGeminiServer(gatewaytest.GeminiConfig{APIKey: geminiKey})
	require.NoError(t, err)
	defer up.Close()
	p, err := provider.NewGemini(provider.GeminiConfig{BaseURL: up.BaseURL(), APIKey: geminiKey,
		ModelMap: map[string]string{"fast": "gemini-2.5-flash-lite"}})
	require.NoError(t, err)
	defer p.CloseIdleConnections()
	calls := &callCapture{}
	rt := gateway.Chain(p, calls.Middleware)
	resp := post(t, rt, "/v1/chat/completions", `{"model":"fast","stream":true,"messages":[{"role":"user","content":"Hi"}]}`)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	resp = post(t, rt, "/v1/chat/completions", `{"model":"models/gemini-2.5-pro","messages":[{"role":"user","content":"Hi"}]}`)
	require.Equal(t, 200, resp.StatusCode)
	reqs := up.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "/v1beta/models/gemini-2.5-flash-lite:streamGenerateContent", reqs[0].Path)
	assert.Equal(t, "alt=sse", reqs[0].Query)
	assert.Equal(t, "text/event-stream", reqs[0].Header.Get("Accept"))
	assert.Equal(t, "/v1beta/models/gemini-2.5-pro:generateContent", reqs[1].Path)
	resp = post(t, rt, "/v1/chat/completions", `{"model":"fast","messages":[{"role":"user","content":"Hi"}]}`)
	require.Equal(t, 200, resp.StatusCode)
	_, _ = io.Copy(io.Discard, resp.Body)
	assert.Equal(t, "gemini-2.5-flash-lite", calls.Call().Attempts()[0].Model)
}

func TestGeminiConfigValidate(t *testing.T) {
	assert.NoError(t, provider.GeminiConfig{APIKey: geminiKey}.Validate(), "the zero value but the key works")
	for name, cfg := range map[string]provider.GeminiConfig{
		"key header":     {Headers: map[string]string{"x-goog-api-key": "other"}},
		"query":          {BaseURL: "https://generativelanguage.googleapis.com/v1beta?key=" + geminiKey, APIKey: geminiKey},
		"not http":       {BaseURL: "ftp://example.com"},
		"control in key": {APIKey: "a\nb"},
		"empty model":    {Models: []string{""}},
	} {
		err := cfg.Validate()
		require.Error(t, err, name)
		assert.NotContains(t, err.Error(), geminiKey, name)
		_, err = provider.NewGemini(cfg)
		assert.Error(t, err, name)
	}
}

// Gemini's own error bodies, as recorded, reach callers in OpenAI's shape
// with nothing of the account: no key, no project number, no email.
func TestGemini_ErrorBodiesHideAccountDetails(t *testing.T) {
	tests := []struct {
		name, body   string
		status, want int
		message      string
	}{
		{"bad key", `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT",` +
			`"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com","metadata":{"service":"generativelanguage.googleapis.com"}}]}}`,
			400, 401, "upstream rejected the gateway's credentials"},
		{"quota names the project", `{"error":{"code":429,"message":"Quota exceeded for quota metric 'Generate Content API requests per minute' of service 'generativelanguage.googleapis.com' for consumer 'project_number:123456789012'.","status":"RESOURCE_EXHAUSTED",` +
			`"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"7s"}]}}`,
			429, 429, "for consumer 'project_number:[REDACTED]'"},
		{"the key quoted back", `[{"error":{"code":500,"message":"Internal error for key ` + geminiKey + ` owned by ops@example.com","status":"INTERNAL"}}]`,
			500, 500, "Internal error for key [REDACTED] owned by [REDACTED]"},
		{"suspended consumer", `{"error":{"code":403,"message":"Permission denied: Consumer 'api_key:` + geminiKey + `' has been suspended.","status":"PERMISSION_DENIED"}}`,
			403, 403, "upstream denied the gateway's credentials access to this request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json; charset=UTF-8")
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer up.Close()
			p, err := provider.NewGemini(provider.GeminiConfig{BaseURL: up.URL + "/v1beta", APIKey: geminiKey})
			require.NoError(t, err)
			defer p.CloseIdleConnections()
			resp := post(t, p, "/v1/chat/completions", geminiChatBody)
			assert.Equal(t, tt.want, resp.StatusCode)
			var e struct {
				Error struct {
					Message string `json:"message"`
					Type    string `json:"type"`
				} `json:"error"`
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
			assert.Contains(t, e.Error.Message, tt.message)
			assert.NotEmpty(t, e.Error.Type)
			assert.NotContains(t, e.Error.Message, geminiKey)
			assert.NotContains(t, e.Error.Message, "123456789012")
		})
	}
}

func TestGemini_HealthCheck(t *testing.T) {
	up, p := geminiFixture(t, gatewaytest.GeminiConfig{})
	require.NoError(t, p.HealthCheck(t.Context()))
	assert.Equal(t, "/v1beta/models", up.Requests()[0].Path)
	require.NoError(t, up.SetGeminiFaults(gatewaytest.GeminiFaults{Status: 503}))
	assert.ErrorIs(t, p.HealthCheck(t.Context()), gateway.ErrUpstream)
}

// One provider serves many calls at once, streamed and not, each with its
// own translation state (run with -race).
func TestGemini_ConcurrentCalls(t *testing.T) {
	_, p := geminiFixture(t, gatewaytest.GeminiConfig{Reply: gatewaytest.GeminiReply{Text: "one two three"}})
	client := sdkClient(p)
	errs := make(chan error, 16)
	for i := range 16 {
		go func() {
			if i%2 == 0 {
				res, err := client.Chat.Completions.New(context.Background(), geminiChat())
				if err == nil && res.Choices[0].Message.Content != "one two three" {
					err = assert.AnError
				}
				errs <- err
				return
			}
			stream := client.Chat.Completions.NewStreaming(context.Background(), geminiChat())
			var acc openai.ChatCompletionAccumulator
			for j := 0; j < maxChunks && stream.Next(); j++ {
				acc.AddChunk(stream.Current())
			}
			err := stream.Err()
			stream.Close()
			if err == nil && acc.Choices[0].Message.Content != "one two three" {
				err = assert.AnError
			}
			errs <- err
		}()
	}
	for range 16 {
		assert.NoError(t, <-errs)
	}
}

// A redirect is never followed: the key would go wherever it points.
func TestGemini_RedirectIsNotFollowed(t *testing.T) {
	hits := 0
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		http.Redirect(w, r, "http://127.0.0.1:1/steal", http.StatusTemporaryRedirect)
	}))
	defer up.Close()
	p, err := provider.NewGemini(provider.GeminiConfig{BaseURL: up.URL + "/v1beta", APIKey: geminiKey})
	require.NoError(t, err)
	defer p.CloseIdleConnections()
	_, err = p.RoundTrip(withCall(t, mustRequest(t, geminiChatBody)))
	assert.ErrorIs(t, err, breaker.ErrRedirect)
	assert.NotContains(t, err.Error(), geminiKey)
	assert.Equal(t, 1, hits)
}

// A verbatim error body is read bounded (its 400s and 429s, for their
// details): one over the bound reaches the caller cut, and ends with an
// error rather than as a whole answer, with no length: the upstream's
// would promise bytes that never come.
func TestGemini_VerbatimErrorBodyOverTheBoundIsNotWhole(t *testing.T) {
	big := `{"error":{"code":400,"message":"` + strings.Repeat("x", 100<<10) + `","status":"INVALID_ARGUMENT"}}`
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, big)
	}))
	defer up.Close()
	p, err := provider.NewGemini(provider.GeminiConfig{BaseURL: up.URL + "/v1beta", APIKey: geminiKey, VerbatimErrors: true})
	require.NoError(t, err)
	defer p.CloseIdleConnections()
	resp := post(t, p, "/v1/chat/completions", geminiChatBody)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	assert.Less(t, len(body), len(big), "read bounded")
	assert.Error(t, err, "a body cut by the bound must not look whole")
	assert.Equal(t, int64(-1), resp.ContentLength, "no length promises bytes that never come")
}

// A verbatim error body the upstream cut ends, for its caller, with the
// upstream's read error, not as a whole answer; one that fits the bound
// comes whole, with its own length.
func TestGemini_VerbatimErrorBodyCutUpstreamIsNotWhole(t *testing.T) {
	const body = `{"error":{"code":429,"message":"slow down","status":"RESOURCE_EXHAUSTED"}}`
	for _, cut := range []bool{true, false} {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if cut {
				w.Header().Set("Content-Length", strconv.Itoa(2*len(body))) // promises more than it sends
			}
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, body)
		}))
		p, err := provider.NewGemini(provider.GeminiConfig{BaseURL: up.URL + "/v1beta", APIKey: geminiKey, VerbatimErrors: true})
		require.NoError(t, err)
		resp := post(t, p, "/v1/chat/completions", geminiChatBody)
		got, err := io.ReadAll(resp.Body)
		assert.Equal(t, body, string(got), "cut %v", cut)
		if cut {
			assert.Error(t, err, "the upstream's cut reaches the caller")
			assert.Equal(t, int64(-1), resp.ContentLength)
		} else {
			assert.NoError(t, err)
			assert.Equal(t, int64(len(body)), resp.ContentLength)
		}
		p.CloseIdleConnections()
		up.Close()
	}
}
