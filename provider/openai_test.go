package provider_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/provider"
	"github.com/llmgate/gateway/router"
)

var (
	_ gateway.Provider    = (*provider.OpenAI)(nil)
	_ gateway.ModelLister = (*provider.OpenAI)(nil)
	_ interface {
		HealthCheck(context.Context) error
	} = (*provider.OpenAI)(nil)
)

const chatBody = `{"model":"gpt-4.1","messages":[{"role":"user","content":"Say hello"}]}`

func TestOpenAI_UpstreamSeesOnlyItsKeyClientMode(t *testing.T) {
	up := newOAIUpstream(t, nil)
	p := newTestOpenAI(t, provider.OpenAIConfig{
		BaseURL: up.URL + "/v1",
		APIKey:  "sk-upstream-key",
		Headers: map[string]string{"OpenAI-Organization": "org-test", "X-Custom": "custom"},
	})
	client := gateway.NewClient(p)

	req, err := http.NewRequest(http.MethodPost, "http://attacker.invalid/v1/chat/completions?redirect=http://evil", strings.NewReader(chatBody))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer caller-virtual-key")
	req.Header.Set("Api-Key", "caller-virtual-key")
	req.Header.Set("X-Api-Key", "caller-virtual-key")
	req.Header.Set("Cookie", "session=caller")
	req.Header.Set("X-Forwarded-For", "10.0.0.1")
	req.Header.Set("OpenAI-Organization", "org-caller")
	req.Header.Set("Content-Type", "text/plain")
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, readAll(t, resp.Body), "Hello there")

	seen := up.Last(t)
	assert.Equal(t, http.MethodPost, seen.Method)
	assert.Equal(t, "/v1/chat/completions", seen.RequestURI, "host, path and query come from configuration only")
	assert.Equal(t, []string{"Bearer sk-upstream-key"}, seen.Header.Values("Authorization"))
	assert.Equal(t, []string{"org-test"}, seen.Header.Values("OpenAI-Organization"), "the caller cannot override a configured header")
	assert.Equal(t, "custom", seen.Header.Get("X-Custom"))
	assert.Equal(t, "application/json", seen.Header.Get("Content-Type"))
	assert.Equal(t, "application/json", seen.Header.Get("Accept"))
	for _, h := range []string{"Api-Key", "X-Api-Key", "Cookie", "X-Forwarded-For"} {
		assert.Empty(t, seen.Header.Values(h), h)
	}
	for k, v := range seen.Header {
		assert.NotContains(t, strings.Join(v, ","), "caller", "header %s", k)
	}
	assert.JSONEq(t, chatBody, string(seen.Body))
	assert.Equal(t, "99", resp.Header.Get("x-ratelimit-remaining-requests"), "rate limit headers stay on the response")
}

func TestOpenAI_UpstreamSeesOnlyItsKeyServerMode(t *testing.T) {
	up := newOAIUpstream(t, nil)
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: up.URL + "/v1", APIKey: "sk-upstream-key"})
	srv := httptest.NewServer(gateway.NewHandler(p))
	defer srv.Close()

	req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions", strings.NewReader(chatBody))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer caller-virtual-key")
	req.Header.Set("Api-Key", "caller-virtual-key")
	req.Header.Set("X-Api-Key", "caller-virtual-key")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	readAll(t, resp.Body)

	seen := up.Last(t)
	assert.Equal(t, []string{"Bearer sk-upstream-key"}, seen.Header.Values("Authorization"))
	assert.Empty(t, seen.Header.Values("Api-Key"))
	assert.Empty(t, seen.Header.Values("X-Api-Key"))
}

func TestOpenAI_NoKeyConfiguredSendsNone(t *testing.T) {
	up := newOAIUpstream(t, nil)
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: up.URL + "/v1"}) // e.g. a local Ollama
	resp := oaiPost(t, gateway.NewClient(p), "/v1/chat/completions", chatBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Empty(t, up.Last(t).Header.Values("Authorization"), "the caller's key must not stand in for a missing one")
}

func TestOpenAI_OperationPaths(t *testing.T) {
	up := newOAIUpstream(t, nil)
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: up.URL + "/proxy/v1/", APIKey: "sk-upstream-key"})
	client := gateway.NewClient(p)

	for _, tc := range []struct{ in, body, want string }{
		{"/v1/chat/completions", chatBody, "/proxy/v1/chat/completions"},
		{"/v1/completions", `{"model":"gpt-3.5-turbo-instruct","prompt":"hi"}`, "/proxy/v1/completions"},
		{"/v1/embeddings", `{"model":"text-embedding-3-small","input":"hi"}`, "/proxy/v1/embeddings"},
		{"/openai/v1/embeddings", `{"model":"text-embedding-3-small","input":"hi"}`, "/proxy/v1/embeddings"},
	} {
		resp := oaiPost(t, client, tc.in, tc.body)
		assert.Equal(t, http.StatusOK, resp.StatusCode, tc.in)
		assert.Equal(t, tc.want, up.Last(t).RequestURI, tc.in)
	}

	resp, err := client.Get("http://gateway.invalid/v1/models")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, readAll(t, resp.Body), "gpt-4.1")
	seen := up.Last(t)
	assert.Equal(t, http.MethodGet, seen.Method)
	assert.Equal(t, "/proxy/v1/models", seen.RequestURI)
	assert.Empty(t, seen.Header.Get("Content-Type"))
}

// newRequest is a caller's request to path on the gateway.
func newRequest(t testing.TB, ctx context.Context, path string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://gateway.invalid"+path, body)
	require.NoError(t, err)
	return req
}

func TestOpenAI_UnknownPathIsRefused(t *testing.T) {
	up := newOAIUpstream(t, nil)
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: up.URL + "/v1"})

	// Client mode leaves a path it does not know to the Provider, which
	// refuses the operation and closes the body.
	req := withCall(t, newRequest(t, context.Background(), "/v1/files", strings.NewReader("{}")))
	body := &closeTracker{Reader: strings.NewReader("{}")}
	req.Body = body
	resp, err := p.RoundTrip(req)
	assert.Nil(t, resp)
	require.ErrorIs(t, err, gateway.ErrNotFound)
	assert.Equal(t, 1, body.Closed())

	// The caller gets the gateway's own 404.
	caller := &closeTracker{Reader: strings.NewReader("{}")}
	resp, err = gateway.NewClient(p).Transport.RoundTrip(newRequest(t, context.Background(), "/v1/files", caller))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.ErrorIs(t, gateway.ErrorFromResponse(resp), gateway.ErrNotFound)
	assert.Equal(t, 1, caller.Closed())

	// Server mode refuses the path before the provider.
	srv := httptest.NewServer(gateway.NewHandler(p))
	defer srv.Close()
	resp, err = srv.Client().Post(srv.URL+"/v1/files", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.ErrorIs(t, gateway.ErrorFromResponse(resp), gateway.ErrNotFound)

	assert.Empty(t, up.Seen())
}

func TestOpenAI_ModelMapRenamesUpstream(t *testing.T) {
	up := newOAIUpstream(t, nil)
	p := newTestOpenAI(t, provider.OpenAIConfig{
		BaseURL:  up.URL + "/v1",
		ModelMap: map[string]string{"gpt-4.1": "my-gpt-4.1-deployment", "fallback": "renamed-fallback"},
	})
	resp := oaiPost(t, gateway.NewClient(p), "/v1/chat/completions", chatBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "my-gpt-4.1-deployment", oaiFields(t, up.Last(t).Body).Model)

	// A model not in the map goes as it is.
	resp = oaiPost(t, gateway.NewClient(p), "/v1/chat/completions", `{"model":"other","messages":[]}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "other", oaiFields(t, up.Last(t).Body).Model)
}

// A router falling back to another model renames it for its target
// (gateway.WithModel) while the Call still names the asked model: the
// renamed model reaches the upstream body, then ModelMap applies, in place,
// and the stream still asks for usage.
func TestOpenAI_RouterRenamedModelReachesUpstream(t *testing.T) {
	up := newOAIUpstream(t, nil)
	p := newTestOpenAI(t, provider.OpenAIConfig{
		BaseURL:  up.URL + "/v1",
		ModelMap: map[string]string{"fallback-model": "fallback-upstream"},
	})
	var (
		mu   sync.Mutex
		sent gateway.Outbound // what the router's attempt hands the provider
	)
	keepOutbound := func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			sent = gateway.OutboundFrom(r.Context())
			mu.Unlock()
			return next.RoundTrip(r)
		})
	}
	rt, err := router.New("llm", []router.Target{{
		Provider:    p,
		Weight:      1,
		ModelMap:    map[string]string{"gpt-4.1": "fallback-model"},
		Middlewares: []gateway.Middleware{keepOutbound},
	}}, router.Config{})
	require.NoError(t, err)
	var cc callCapture
	resp := oaiPost(t, gateway.NewClient(gateway.Chain(rt, cc.Middleware)), "/v1/chat/completions",
		`{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out := readAll(t, resp.Body)
	assert.NotContains(t, out, `"usage"`, "the forced usage chunk is stripped")

	body := up.Last(t).Body
	f := oaiFields(t, body)
	assert.Equal(t, "fallback-upstream", f.Model)
	assert.True(t, f.Stream)
	require.NotNil(t, f.StreamOptions)
	assert.True(t, *f.StreamOptions.IncludeUsage, "usage is asked on the renamed body too")
	mu.Lock()
	assert.Equal(t, "fallback-model", sent.Model)
	want := bytes.Replace(sent.Body, []byte(`"model":"fallback-model"`), []byte(`"model":"fallback-upstream"`), 1)
	mu.Unlock()
	assert.Equal(t, string(want), string(body), "the Outbound body, renamed where the model stands")

	call := cc.Call()
	require.NotNil(t, call)
	assert.Equal(t, "gpt-4.1", call.Model)
	atts := call.Attempts()
	require.Len(t, atts, 1)
	assert.Equal(t, "openai", atts[0].Target)
	assert.Equal(t, "fallback-upstream", atts[0].Model, "the attempt records the model sent, after the adapter's own ModelMap")
}

// A request that did not come through an entry point carries no Call: the
// provider refuses it, closes its body and sends nothing.
func TestOpenAI_WithoutCallIsAnError(t *testing.T) {
	up := newOAIUpstream(t, nil)
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: up.URL + "/v1"})
	body := &closeTracker{Reader: strings.NewReader(`{"model":"gpt-4.1","stream":true,"messages":[]}`)}
	resp, err := p.RoundTrip(newRequest(t, context.Background(), "/v1/chat/completions", body))
	assert.Nil(t, resp)
	require.ErrorIs(t, err, gateway.ErrInternal)
	assert.Contains(t, err.Error(), "gateway.NewClient")
	assert.Equal(t, 1, body.Closed())
	assert.Empty(t, up.Seen())
}

func TestOpenAI_CalledDirectlyRenamesAndClosesBody(t *testing.T) {
	up := newOAIUpstream(t, nil)
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: up.URL + "/v1", ModelMap: map[string]string{"gpt-4.1": "upstream-model"}})

	req := withCall(t, newRequest(t, context.Background(), "/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4.1","stream":true,"messages":[]}`)))
	body := &closeTracker{Reader: strings.NewReader(`{"model":"never-read","messages":[]}`)}
	req.Body = body
	resp, err := p.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, req.URL, resp.Request.URL, "the response names the caller's request, not the upstream one")
	assert.Equal(t, "upstream-model", gateway.OutboundFrom(resp.Request.Context()).Model, "as the ModelMap renamed it")
	assert.Empty(t, resp.Request.Header.Get("Authorization"), "never the upstream request, which holds the key")
	assert.Equal(t, 1, body.Closed())
	seen := up.Last(t)
	f := oaiFields(t, seen.Body)
	assert.Equal(t, "upstream-model", f.Model)
	require.NotNil(t, f.StreamOptions)
	assert.True(t, *f.StreamOptions.IncludeUsage)
	assert.Equal(t, "text/event-stream", seen.Header.Get("Accept"))
	sent := gateway.OutboundFrom(req.Context()).Body
	assert.Equal(t, string(bytes.Replace(sent, []byte(`"gpt-4.1"`), []byte(`"upstream-model"`), 1)), string(seen.Body),
		"the Outbound body, renamed in place")

	// A bad body never reaches the provider: the entry point refuses it.
	resp = oaiPost(t, gateway.NewClient(p), "/v1/chat/completions", `{"messages":[]}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.ErrorIs(t, gateway.ErrorFromResponse(resp), gateway.ErrBadRequest)
	assert.Len(t, up.Seen(), 1, "a bad body never goes upstream")
}

func TestOpenAI_SendsTheEditedOutbound(t *testing.T) {
	// A middleware edits the body (gateway.WithBody) late, past what one read
	// would cover; the provider sends exactly the edited body, whatever
	// req.Body holds.
	var got [][]byte
	var mu sync.Mutex
	p := newTestOpenAI(t, provider.OpenAIConfig{
		BaseURL: "http://upstream.invalid/v1",
		Transport: gateway.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
			b, err := io.ReadAll(r.Body)
			r.Body.Close()
			if err != nil {
				return nil, err
			}
			mu.Lock()
			got = append(got, b)
			mu.Unlock()
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
		}),
	})
	body := `{"model":"m","input":"` + strings.Repeat("x", 100<<10) + `"}`
	edited := body[:len(body)-3] + "y" + body[len(body)-2:]
	edit := func(to string) gateway.Middleware {
		return func(next http.RoundTripper) http.RoundTripper {
			return gateway.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
				out, err := gateway.WithBody(r, []byte(to))
				if err != nil {
					return nil, err
				}
				return next.RoundTrip(out)
			})
		}
	}
	swap := func(next http.RoundTripper) http.RoundTripper { // req.Body behind the Outbound's back
		return gateway.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
			cp := *r
			cp.Body = io.NopCloser(strings.NewReader(`{"model":"swapped","input":"z"}`))
			cp.ContentLength, cp.GetBody = -1, nil
			return next.RoundTrip(&cp)
		})
	}
	send := func(mws ...gateway.Middleware) *http.Response {
		return oaiPost(t, gateway.NewClient(gateway.Chain(p, mws...)), "/v1/embeddings", body)
	}
	assert.Equal(t, http.StatusOK, send().StatusCode)
	assert.Equal(t, http.StatusOK, send(edit(edited)).StatusCode)
	assert.Equal(t, http.StatusOK, send(edit(edited), swap).StatusCode)
	assert.Equal(t, http.StatusOK, send(swap).StatusCode)
	resp := send(edit(edited[:len(edited)-2]))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "a truncated edit is parsed, not trusted")
	assert.ErrorIs(t, gateway.ErrorFromResponse(resp), gateway.ErrBadRequest)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 4, "the truncated edit is refused")
	assert.Equal(t, body, string(got[0]))
	assert.Equal(t, edited, string(got[1]))
	assert.Equal(t, edited, string(got[2]), "req.Body is not what is sent")
	assert.Equal(t, body, string(got[3]), "req.Body is not what is sent")
}

func TestOpenAI_ConcurrentUse(t *testing.T) {
	up := newOAIUpstream(t, nil)
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: up.URL + "/v1", APIKey: "sk-upstream-key",
		ModelMap: map[string]string{"gpt-4.1": "renamed"}})
	client := gateway.NewClient(p)
	const workers, each = 16, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				body := chatBody
				if (w+i)%2 == 1 {
					body = `{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"hi"}]}`
				}
				resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil {
					errs <- err
					continue
				}
				b := new(bytes.Buffer)
				_, err = b.ReadFrom(resp.Body)
				resp.Body.Close()
				if err == nil && (resp.StatusCode != 200 || !strings.Contains(b.String(), "renamed")) {
					err = assert.AnError
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Len(t, up.Seen(), workers*each)
}

func TestOpenAI_ModelsAndName(t *testing.T) {
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: "http://127.0.0.1:1/v1"})
	assert.Equal(t, "openai", p.Name())
	assert.Nil(t, p.Models(), "empty means any model")

	models := []string{"gpt-4.1", "gpt-4.1-mini"}
	p = newTestOpenAI(t, provider.OpenAIConfig{Name: "deepseek", BaseURL: "http://127.0.0.1:1/v1", Models: models})
	assert.Equal(t, "deepseek", p.Name())
	got := p.Models()
	assert.Equal(t, models, got)
	got[0] = "changed"
	assert.Equal(t, "gpt-4.1", p.Models()[0], "Models returns a copy")
	models[1] = "changed"
	assert.Equal(t, "gpt-4.1-mini", p.Models()[1], "the config is copied")
}

func TestOpenAI_HealthCheck(t *testing.T) {
	up := newOAIUpstream(t, nil)
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: up.URL + "/v1", APIKey: "sk-upstream-key"})
	require.NoError(t, p.HealthCheck(context.Background()))
	seen := up.Last(t)
	assert.Equal(t, http.MethodGet, seen.Method)
	assert.Equal(t, "/v1/models", seen.RequestURI)
	assert.Equal(t, "Bearer sk-upstream-key", seen.Header.Get("Authorization"))

	up.handle = func(w http.ResponseWriter, _ *http.Request, _ []byte) { w.WriteHeader(http.StatusUnauthorized) }
	err := p.HealthCheck(context.Background())
	require.ErrorIs(t, err, gateway.ErrUpstream)
	assert.Contains(t, err.Error(), "401")
	assert.NotContains(t, err.Error(), "sk-upstream-key")
}

func TestOpenAI_UpstreamErrorPassesThrough(t *testing.T) {
	up := newOAIUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Retry-After", "7")
		w.Header().Set("x-ratelimit-remaining-tokens", "0")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"error":{"message":"slow down","type":"rate_limit_error","code":"rate_limit_exceeded"}}`))
	})
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: up.URL + "/v1"})
	req := withCall(t, newRequest(t, context.Background(), "/v1/chat/completions", strings.NewReader(chatBody)))
	resp, err := p.RoundTrip(req)
	require.NoError(t, err, "an upstream error status is a response, for the router and breaker to classify")
	defer resp.Body.Close()
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "7", resp.Header.Get("Retry-After"))
	assert.Equal(t, "0", resp.Header.Get("x-ratelimit-remaining-tokens"))
	assert.Contains(t, readAll(t, resp.Body), "slow down")
}
