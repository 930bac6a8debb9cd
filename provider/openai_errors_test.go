package provider_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/provider"
)

const upstreamKey = "sk-upstream-secret-0123456789"

func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func TestOpenAI_ConnectionRefusedHidesKey(t *testing.T) {
	p := newTestOpenAI(t, provider.OpenAIConfig{
		BaseURL: "http://" + closedAddr(t) + "/v1",
		APIKey:  upstreamKey,
		Headers: map[string]string{"X-Upstream-Token": "tok-secret-abcdefgh"},
	})
	resp, err := p.RoundTrip(withCall(t, newRequest(t, context.Background(), "/v1/chat/completions", strings.NewReader(chatBody))))
	assert.Nil(t, resp)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), upstreamKey)
	assert.NotContains(t, err.Error(), "tok-secret")
	assert.True(t, strings.HasPrefix(err.Error(), "provider: openai: "), err.Error())
	assert.ErrorIs(t, err, syscall.ECONNREFUSED, "the net error stays reachable for classification")
	var opErr *net.OpError
	assert.ErrorAs(t, err, &opErr)

	// Client mode turns it into a 502 whose body holds no secret either.
	resp = oaiPost(t, gateway.NewClient(p), "/v1/chat/completions", chatBody)
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	body := readAll(t, resp.Body)
	assert.NotContains(t, body, upstreamKey)
	assert.NotContains(t, body, "caller-virtual-key")
}

func TestOpenAI_TransportErrorTextIsScrubbed(t *testing.T) {
	cause := errors.New("proxy refused")
	p := newTestOpenAI(t, provider.OpenAIConfig{
		Name:    "scrubbed",
		BaseURL: "https://api.example.invalid/v1",
		APIKey:  upstreamKey,
		Headers: map[string]string{"X-Upstream-Token": "tok-secret-abcdefgh", "X-Short": "1"},
		Transport: gateway.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
			return nil, &wrapped{
				msg:   `Post "https://api.example.invalid/v1/chat?key=` + upstreamKey + `&x=1": auth ` + r.Header.Get("Authorization") + " token tok-secret-abcdefgh",
				cause: cause,
			}
		}),
	})
	_, err := p.RoundTrip(withCall(t, newRequest(t, context.Background(), "/v1/chat/completions", strings.NewReader(chatBody))))
	require.Error(t, err)
	msg := err.Error()
	assert.NotContains(t, msg, upstreamKey)
	assert.NotContains(t, msg, "tok-secret")
	assert.NotContains(t, msg, "&x=1", "a URL query never reaches the text")
	assert.Contains(t, msg, "provider: scrubbed: ")
	assert.Contains(t, msg, "api.example.invalid/v1/chat?[REDACTED]")
	assert.ErrorIs(t, err, cause)
}

type wrapped struct {
	msg   string
	cause error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.cause }

func TestOpenAI_TimeoutsStayClassifiable(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		is   error
	}{
		{"deadline", context.DeadlineExceeded, context.DeadlineExceeded},
		{"canceled", context.Canceled, context.Canceled},
		{"reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, syscall.ECONNRESET},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestOpenAI(t, provider.OpenAIConfig{
				BaseURL:   "http://upstream.invalid/v1",
				Transport: gateway.RoundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, tc.err }),
			})
			_, err := p.RoundTrip(withCall(t, newRequest(t, context.Background(), "/v1/embeddings", strings.NewReader(`{"model":"m","input":"x"}`))))
			assert.ErrorIs(t, err, tc.is)
		})
	}
}

func TestOpenAI_RedirectIsNotFollowed(t *testing.T) {
	elsewhere := newOAIUpstream(t, nil)
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		up := newOAIUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
			http.Redirect(w, r, elsewhere.URL+"/v1/chat/completions", status)
		})
		p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: up.URL + "/v1", APIKey: upstreamKey})

		resp, err := p.RoundTrip(withCall(t, newRequest(t, context.Background(), "/v1/chat/completions", strings.NewReader(chatBody))))
		assert.Nil(t, resp)
		require.ErrorIs(t, err, breaker.ErrRedirect, "status %d", status)
		assert.Contains(t, err.Error(), "redirect")
		assert.NotContains(t, err.Error(), elsewhere.URL)

		// Nor by the SDK's http.Client in client mode.
		resp = oaiPost(t, gateway.NewClient(p), "/v1/chat/completions", chatBody)
		assert.Equal(t, http.StatusBadGateway, resp.StatusCode, "status %d", status)
		assert.Len(t, up.Seen(), 2)
	}
	assert.Empty(t, elsewhere.Seen(), "a redirect target never sees the request or the key")
}

// An upstream that is itself a gateway marks its own refusals with
// X-Llmgate-Error. Passed through this gateway they are a provider's answer,
// not this gateway's refusal: the mark never reaches the caller, so
// gateway.ErrorFromResponse is nil for a provider's 429 rate_limit_exceeded,
// while a refusal this gateway makes itself maps to its sentinel.
func TestOpenAI_UpstreamGatewayMarkDoesNotReachCaller(t *testing.T) {
	var mark atomic.Pointer[string]
	up := newOAIUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("X-Llmgate-Error", *mark.Load())
		w.Header().Set("Retry-After", "3")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}`))
	})
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: up.URL + "/v1", APIKey: upstreamKey})
	client := sdkClient(p)
	srv := httptest.NewServer(gateway.NewHandler(p, gateway.WithResponseHeaders("X-Llmgate-Error")))
	defer srv.Close()

	for _, code := range []string{"rate_limit_exceeded", breaker.ErrCoolingDown.Code, gateway.ErrNoHealthyProvider.Code} {
		t.Run(code, func(t *testing.T) {
			mark.Store(&code)
			if code != "rate_limit_exceeded" {
				// The mark names one of our sentinels: it would be taken for
				// our own refusal if it got through.
				require.NotNil(t, gateway.ErrorFromResponse(&http.Response{StatusCode: 429, Header: http.Header{"X-Llmgate-Error": {code}}}))
			}

			resp := oaiPost(t, gateway.NewClient(p), "/v1/chat/completions", chatBody)
			assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
			assert.Empty(t, resp.Header.Values("X-Llmgate-Error"), "client mode")
			assert.Nil(t, gateway.ErrorFromResponse(resp))
			assert.Equal(t, "3", resp.Header.Get("Retry-After"), "the rest of the answer passes through")
			assert.Contains(t, readAll(t, resp.Body), "rate_limit_exceeded")

			_, err := client.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{
				Model:    "gpt-4.1",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")},
			})
			var apiErr *openai.Error
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, http.StatusTooManyRequests, apiErr.StatusCode)
			assert.Equal(t, "rate_limit_exceeded", apiErr.Code)
			assert.Empty(t, apiErr.Response.Header.Values("X-Llmgate-Error"), "the SDK's response")
			assert.Nil(t, gateway.ErrorFromResponse(apiErr.Response), "a provider's 429 is not the gateway's refusal")

			resp, err = srv.Client().Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(chatBody))
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
			assert.Empty(t, resp.Header.Values("X-Llmgate-Error"), "server mode, even when configured to pass the header on")
			assert.Nil(t, gateway.ErrorFromResponse(resp))
		})
	}

	// A refusal this gateway makes itself carries its mark.
	resp, err := srv.Client().Post(srv.URL+"/v1/no/such/path", "application/json", strings.NewReader(chatBody))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.ErrorIs(t, gateway.ErrorFromResponse(resp), gateway.ErrNotFound)
	_, err = client.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{Model: "", Messages: nil})
	var apiErr *openai.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusBadRequest, apiErr.StatusCode)
	assert.ErrorIs(t, gateway.ErrorFromResponse(apiErr.Response), gateway.ErrBadRequest, "the gateway's own refusal, through the SDK")
	assert.Len(t, up.Seen(), 9, "three answers per mark; the refusals never went upstream")
}

// The same with a real gateway upstream (gatewaytest.Server serves
// gateway.NewHandler): its own refusal of a request its limits do not allow
// is, to this gateway's caller, the provider's answer.
func TestOpenAI_UpstreamGatewayRefusalIsTheProvidersAnswer(t *testing.T) {
	sim := gatewaytest.MustNewSim("upstream", gatewaytest.SimConfig{})
	srv := gatewaytest.NewServer(sim, gateway.WithLimits(gateway.Limits{MaxMessages: 1}))
	t.Cleanup(srv.Close)
	body := `{"model":"gpt-4.1","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}`

	direct, err := srv.Client().Post(srv.BaseURL()+"/chat/completions", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	direct.Body.Close()
	require.Equal(t, http.StatusBadRequest, direct.StatusCode)
	require.ErrorIs(t, gateway.ErrorFromResponse(direct), gateway.ErrBadRequest, "the upstream gateway's own refusal, asked directly")

	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: srv.BaseURL(), APIKey: upstreamKey})
	resp := oaiPost(t, gateway.NewClient(p), "/v1/chat/completions", body)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Empty(t, resp.Header.Values("X-Llmgate-Error"))
	assert.Nil(t, gateway.ErrorFromResponse(resp), "through this gateway it is a provider's answer")
	assert.Contains(t, readAll(t, resp.Body), "too many messages")
	assert.Zero(t, sim.Requests())
}
