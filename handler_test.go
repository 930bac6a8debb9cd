package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

func TestHandlerRejectsBadInputBeforeDispatch(t *testing.T) {
	p := okProvider()
	srv := httptest.NewServer(gateway.NewHandler(p, gateway.WithLimits(gateway.Limits{MaxBodyBytes: 1024})))
	defer srv.Close()
	big := `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("x", 2000) + `"}]}`
	tests := []struct {
		name, method, path, body string
		chunked                  bool
		status                   int
		code                     string
	}{
		{"malformed JSON", "POST", "/v1/chat/completions", `{"model":`, false, 400, "invalid_request"},
		{"missing model", "POST", "/v1/chat/completions", `{"messages":[]}`, false, 400, "invalid_request"},
		{"unknown path", "POST", "/v1/nope", `{}`, false, 404, "unknown_url"},
		{"wrong method", "GET", "/v1/chat/completions", ``, false, 405, "method_not_allowed"},
		{"models takes GET", "POST", "/v1/models", `{}`, false, 405, "method_not_allowed"},
		{"too large with length", "POST", "/v1/chat/completions", big, false, 413, "request_too_large"},
		{"too large chunked", "POST", "/v1/embeddings", big, true, 413, "request_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, body)
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			var e errorJSON
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
			assert.Equal(t, tt.code, e.Error.Code)
			assert.NotEmpty(t, e.Error.Message)
			if tt.status == 405 {
				assert.NotEmpty(t, resp.Header.Get("Allow"))
			}
		})
	}
	assert.Zero(t, p.calls.Load(), "bad input never reaches the provider")
}

func TestHandlerServesChatAndRecordsUsage(t *testing.T) {
	p := okProvider()
	srv := httptest.NewServer(gateway.NewHandler(p))
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer caller-key")
	req.Header.Set("Cookie", "session=1")
	req.Header.Set("X-Forwarded-Host", "evil")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	assert.Equal(t, 200, resp.StatusCode)
	assert.JSONEq(t, chatReply, string(b))

	out, call, _ := p.seen()
	require.NotNil(t, call)
	assert.Equal(t, call.ID, resp.Header.Get("X-Request-Id"))
	assert.Equal(t, gateway.OpChat, call.Op)
	assert.Equal(t, "/v1/chat/completions", out.URL.Path)
	assert.Equal(t, "Bearer caller-key", out.Header.Get("Authorization"), "credentials reach the chain for authentication")
	assert.Empty(t, out.Header.Get("Cookie"), "only allow-listed headers are passed")
	assert.Empty(t, out.Header.Get("X-Forwarded-Host"))
	u, ok := call.Usage()
	require.True(t, ok)
	assert.Equal(t, gateway.Usage{PromptTokens: 7, CompletionTokens: 2}, u)
	require.Len(t, call.Attempts(), 1)
	assert.Equal(t, "fake", call.Attempts()[0].Target)
}

// Each event reaches the client before the next one exists upstream
// (invariant 3: never buffered).
func TestHandlerFlushesEachStreamEvent(t *testing.T) {
	pr, pw := io.Pipe()
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) { return sseReply(req, pr), nil }}
	srv := httptest.NewServer(gateway.NewHandler(p))
	defer srv.Close()
	// The status goes out with the first content event: the attempt
	// boundary holds a stream until then, so that a stream that fails
	// before it can still fail over with nothing sent.
	go func() { _, _ = pw.Write([]byte(chunk("one"))) }()
	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","stream":true,"messages":[]}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	r := bufio.NewReader(resp.Body)
	for i, word := range []string{"one", "two", "three"} {
		if i > 0 { // written only after the previous one was read
			go func() { _, _ = pw.Write([]byte(chunk(word))) }()
		}
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		assert.Contains(t, line, `"content":"`+word+`"`)
		_, _ = r.ReadString('\n') // the blank line
	}
	go func() { _, _ = pw.Write([]byte(usageOnly + "data: [DONE]\n\n")); pw.Close() }()
	rest, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, "data: [DONE]\n\n", string(rest), "the usage chunk the caller did not ask for is dropped")
	_, call, _ := p.seen()
	u, _ := call.Usage()
	assert.Equal(t, gateway.Usage{PromptTokens: 7, CompletionTokens: 2}, u)
}

// A stream that fails after content ends with a terminal error event and no
// fake [DONE] (RELIABILITY 9).
func TestHandlerEndsCutStreamWithErrorEvent(t *testing.T) {
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		body := io.MultiReader(strings.NewReader(chunk("partial")), errReader{io.ErrUnexpectedEOF})
		return sseReply(req, io.NopCloser(body)), nil
	}}
	srv := httptest.NewServer(gateway.NewHandler(p))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","stream":true,"messages":[]}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, chunk("partial")+`data: {"error":{"message":"gateway: upstream failed","type":"api_error","param":null,"code":"upstream_error"}}`+"\n\n", string(b))
	assert.NotContains(t, string(b), "[DONE]")
}

// A non-stream answer the upstream cuts short before the handler has sent
// anything (it fits the handler's buffer, as most do) gets the gateway's
// 502 in the OpenAI shape, not a 200 with half a JSON body, and the call
// is observed with the status the caller got.
func TestHandlerAnswersACutNonStreamBodyWithAnError(t *testing.T) {
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		body := io.MultiReader(strings.NewReader(`{"id":"c1","choi`), errReader{io.ErrUnexpectedEOF})
		return respond(req, 200, "application/json", io.NopCloser(body)), nil
	}}
	o := newObserved(t)
	srv := httptest.NewServer(gateway.NewHandler(p, gateway.WithObserver(o.observe)))
	defer srv.Close()
	resp, err := srv.Client().Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m"}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	assert.Equal(t, "upstream_error", resp.Header.Get("X-Llmgate-Error"))
	assert.JSONEq(t, `{"error":{"message":"gateway: upstream failed","type":"api_error","param":null,"code":"upstream_error"}}`, string(b))
	status, cerr := o.only().Result()
	assert.Equal(t, http.StatusBadGateway, status, "observed as what the caller got")
	assert.ErrorIs(t, cerr, gateway.ErrUpstream)
	assert.ErrorIs(t, cerr, io.ErrUnexpectedEOF, "the cause stays reachable")
}

// A caller that is gone when the gateway writes its error for a cut answer
// (its connection broken, the request's context not cancelled yet) never
// got that 502: the call is recorded as the caller leaving, a 499.
func TestHandlerCutAnswerToAGoneCallerIs499(t *testing.T) {
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		body := io.MultiReader(strings.NewReader(`{"id":"c1","choi`), errReader{io.ErrUnexpectedEOF})
		return respond(req, 200, "application/json", io.NopCloser(body)), nil
	}}
	o := newObserved(t)
	h := gateway.NewHandler(p, gateway.WithObserver(o.observe))
	w := &brokenConnWriter{header: http.Header{}}
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(`{"model":"m"}`)))
	assert.Equal(t, http.StatusBadGateway, w.status, "the error was written")
	status, _ := o.only().Result()
	assert.Equal(t, 499, status, "recorded as the caller gone, not as the 502 it never got")
}

// brokenConnWriter is a ResponseWriter on a connection that has broken:
// every write and flush fails.
type brokenConnWriter struct {
	header http.Header
	status int
}

var errBrokenConn = errors.New("write: broken pipe")

func (w *brokenConnWriter) Header() http.Header       { return w.header }
func (w *brokenConnWriter) WriteHeader(status int)    { w.status = status }
func (w *brokenConnWriter) Write([]byte) (int, error) { return 0, errBrokenConn }
func (w *brokenConnWriter) FlushError() error         { return errBrokenConn }

// The gateway's error for a cut answer carries none of the upstream's
// headers: a Retry-After that came with an upstream 429 whose body was cut
// does not reach the caller on the gateway's 502.
func TestHandlerCutAnswerErrorCarriesNoUpstreamHeaders(t *testing.T) {
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		body := io.MultiReader(strings.NewReader(`{"error":{"mess`), errReader{io.ErrUnexpectedEOF})
		resp := respond(req, http.StatusTooManyRequests, "application/json", io.NopCloser(body))
		resp.Header.Set("Retry-After", "30")
		resp.Header.Set("Retry-After-Ms", "30000")
		return resp, nil
	}}
	srv := httptest.NewServer(gateway.NewHandler(p))
	defer srv.Close()
	resp, err := srv.Client().Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m"}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	assert.Empty(t, resp.Header.Get("Retry-After"))
	assert.Empty(t, resp.Header.Get("Retry-After-Ms"))
	assert.NotEmpty(t, resp.Header.Get("X-Request-Id"), "the call's own headers stay")
}

// One cut after the handler has sent part of it (an answer larger than its
// buffer) aborts the HTTP response, so that it cannot look complete.
func TestHandlerAbortsALargeCutNonStreamBody(t *testing.T) {
	const sent = 64 << 10
	// Without a length the answer goes chunked; with the one the upstream
	// declared (twice what it sends), the caller is promised that many
	// bytes: either way a cut answer must not look complete.
	for _, declared := range []int64{-1, 2 * sent} {
		p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
			body := io.MultiReader(strings.NewReader(`{"id":"c1","x":"`+strings.Repeat("a", sent)), errReader{io.ErrUnexpectedEOF})
			resp := respond(req, 200, "application/json", io.NopCloser(body))
			resp.ContentLength = declared
			return resp, nil
		}}
		o := newObserved(t)
		srv := httptest.NewServer(gateway.NewHandler(p, gateway.WithObserver(o.observe)))
		srv.Config.ErrorLog = quietLog()
		resp, err := srv.Client().Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m"}`))
		require.NoError(t, err, "the status line and the first part were sent")
		assert.Equal(t, 200, resp.StatusCode)
		assert.Equal(t, declared, resp.ContentLength)
		_, err = io.ReadAll(resp.Body)
		assert.Error(t, err, "a truncated JSON body must not look complete (declared %d)", declared)
		resp.Body.Close()
		// The abort is the handler's own: the call ends with the upstream's
		// failure, not as a handler that panicked.
		status, cerr := o.only().Result()
		assert.Equal(t, 200, status)
		assert.ErrorIs(t, cerr, io.ErrUnexpectedEOF)
		assert.NotErrorIs(t, cerr, gateway.ErrInternal)
		srv.Close()
	}
}

func TestHandlerCancelsUpstreamWhenClientLeaves(t *testing.T) {
	cancelled := make(chan struct{})
	started := make(chan struct{})
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		close(started)
		<-req.Context().Done()
		close(cancelled)
		return nil, req.Context().Err()
	}}
	srv := httptest.NewServer(gateway.NewHandler(p))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"m"}`))
	go func() { <-started; cancel() }()
	_, err := http.DefaultClient.Do(req)
	assert.ErrorIs(t, err, context.Canceled)
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("upstream call was not cancelled")
	}
}

func TestHandlerMapsProviderErrors(t *testing.T) {
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		return nil, gateway.ErrNoHealthyProvider.WithRetryAfter(2 * time.Second)
	}}
	rec := httptest.NewRecorder()
	gateway.NewHandler(p).ServeHTTP(rec, httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(`{"model":"m"}`)))
	assert.Equal(t, 503, rec.Code)
	assert.Equal(t, "2", rec.Header().Get("Retry-After"))
	assert.Contains(t, rec.Body.String(), `"code":"no_healthy_provider"`)
}

func TestHandlerPassesModelsAndUpstreamErrorsThrough(t *testing.T) {
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		if gateway.CallFrom(req.Context()).Op == gateway.OpModels {
			return jsonReply(req, 200, `{"object":"list","data":[{"id":"m","object":"model"}]}`), nil
		}
		r := jsonReply(req, 400, `{"error":{"message":"bad","type":"invalid_request_error","code":"x"}}`)
		r.Header.Set("Set-Cookie", "upstream=1")
		return r, nil
	}}
	h := gateway.NewHandler(p)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/models", nil))
	assert.Equal(t, 200, rec.Code)
	assert.Contains(t, rec.Body.String(), `"id":"m"`)
	_, call, _ := p.seen()
	assert.Equal(t, gateway.OpModels, call.Op)

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(`{"model":"m"}`)))
	assert.Equal(t, 400, rec.Code)
	assert.Contains(t, rec.Body.String(), `"code":"x"`)
	assert.Empty(t, rec.Header().Get("Set-Cookie"), "only allow-listed upstream headers reach the caller")
}

func TestNewHandlerPanicsOnMisconfiguration(t *testing.T) {
	assert.Panics(t, func() { gateway.NewHandler(nil) })
	assert.Panics(t, func() { gateway.NewHandler(okProvider(), gateway.WithLimits(gateway.Limits{MaxBodyBytes: -1})) })
}
