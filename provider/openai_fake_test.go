package provider_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/provider"
)

// oaiSeen is one request as an upstream received it.
type oaiSeen struct {
	Method     string
	Path       string
	RequestURI string
	RawQuery   string
	Header     http.Header
	Body       []byte
}

// oaiUpstream is a loopback OpenAI-compatible upstream that records what it
// receives. Its handler, when set, answers instead of the default one.
type oaiUpstream struct {
	*httptest.Server
	handle func(w http.ResponseWriter, r *http.Request, body []byte)

	mu   sync.Mutex
	seen []oaiSeen
}

func newOAIUpstream(t testing.TB, handle func(w http.ResponseWriter, r *http.Request, body []byte)) *oaiUpstream {
	t.Helper()
	u := &oaiUpstream{handle: handle}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.seen = append(u.seen, oaiSeen{r.Method, r.URL.Path, r.RequestURI, r.URL.RawQuery, r.Header.Clone(), body})
		u.mu.Unlock()
		if u.handle != nil {
			u.handle(w, r, body)
			return
		}
		oaiDefaultAnswer(w, r, body)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *oaiUpstream) Seen() []oaiSeen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]oaiSeen(nil), u.seen...)
}

func (u *oaiUpstream) Last(t testing.TB) oaiSeen {
	t.Helper()
	s := u.Seen()
	require.NotEmpty(t, s, "the upstream received no request")
	return s[len(s)-1]
}

// oaiRequestFields is what the default upstream reads from a body.
type oaiRequestFields struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage *bool `json:"include_usage"`
	} `json:"stream_options"`
}

func oaiFields(t testing.TB, body []byte) oaiRequestFields {
	t.Helper()
	var f oaiRequestFields
	require.NoError(t, json.Unmarshal(body, &f), "upstream body: %s", body)
	return f
}

// oaiDefaultAnswer answers like OpenAI: a chat completion (streamed or not),
// embeddings or a model list.
func oaiDefaultAnswer(w http.ResponseWriter, r *http.Request, body []byte) {
	var f oaiRequestFields
	_ = json.Unmarshal(body, &f)
	w.Header().Set("x-ratelimit-remaining-requests", "99")
	switch {
	case strings.HasSuffix(r.URL.Path, "/models"):
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"object":"list","data":[{"id":"gpt-4.1","object":"model","created":1,"owned_by":"test"}]}`)
	case strings.HasSuffix(r.URL.Path, "/embeddings"):
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-0.25]}],"model":%q,"usage":{"prompt_tokens":3,"total_tokens":3}}`, f.Model)
	case f.Stream:
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range oaiStreamEvents(f.Model, f.StreamOptions != nil && f.StreamOptions.IncludeUsage != nil && *f.StreamOptions.IncludeUsage) {
			fmt.Fprintf(w, "data: %s\n\n", ev)
			w.(http.Flusher).Flush()
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	default:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":%q,"choices":[{"index":0,"message":{"role":"assistant","content":"Hello there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}`, f.Model)
	}
}

// oaiStreamEvents are the data payloads of a chat stream, with the
// usage-only chunk last when usage was asked for.
func oaiStreamEvents(model string, usage bool) []string {
	chunk := func(delta, finish string) string {
		return fmt.Sprintf(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":%q,"choices":[{"index":0,"delta":%s,"finish_reason":%s}]}`, model, delta, finish)
	}
	evs := []string{
		chunk(`{"role":"assistant","content":""}`, "null"),
		chunk(`{"content":"Hello"}`, "null"),
		chunk(`{"content":" there"}`, "null"),
		chunk(`{}`, `"stop"`),
	}
	if usage {
		evs = append(evs, fmt.Sprintf(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":%q,"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}`, model))
	}
	return evs
}

// newTestOpenAI returns a provider whose idle connections close with the test.
func newTestOpenAI(t testing.TB, cfg provider.OpenAIConfig) *provider.OpenAI {
	t.Helper()
	p, err := provider.NewOpenAI(cfg)
	require.NoError(t, err)
	t.Cleanup(p.CloseIdleConnections)
	return p
}

// withCall returns req as a Provider behind the client-mode entry point
// receives it: carrying the gateway.Call parsed from its body and the
// attempt's gateway.Outbound. It sends req through gateway.NewClient to a
// RoundTripper that keeps the request it gets, so that a Provider can then be
// called with it directly, with nothing between. The test fails when the
// entry point refuses req.
func withCall(t testing.TB, req *http.Request) *http.Request {
	t.Helper()
	var got *http.Request
	keep := gateway.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
		got = r
		return &http.Response{StatusCode: http.StatusNoContent, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	})
	resp, err := gateway.NewClient(keep).Transport.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.NotNil(t, got, "the entry point refused the request: %d", resp.StatusCode)
	return got
}

// callCapture is a middleware that remembers the Call of the last request.
type callCapture struct {
	mu   sync.Mutex
	call *gateway.Call
}

func (c *callCapture) Middleware(next http.RoundTripper) http.RoundTripper {
	return gateway.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
		c.mu.Lock()
		c.call = gateway.CallFrom(r.Context())
		c.mu.Unlock()
		return next.RoundTrip(r)
	})
}

func (c *callCapture) Call() *gateway.Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.call
}

// oaiPost sends body to path through client, as an SDK would, with the
// caller's own credentials.
func oaiPost(t testing.TB, client *http.Client, path, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://gateway.invalid"+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer caller-virtual-key")
	resp, err := client.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readAll(t testing.TB, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(b)
}

// closeTracker is a request body that records being closed.
type closeTracker struct {
	io.Reader
	mu     sync.Mutex
	closed int
}

func (c *closeTracker) Close() error {
	c.mu.Lock()
	c.closed++
	c.mu.Unlock()
	return nil
}

func (c *closeTracker) Closed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}
