package provider_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
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
	req, err := http.NewRequest(http.MethodPost, "http://gateway.invalid/v1/chat/completions", strings.NewReader(chatBody))
	require.NoError(t, err)
	resp, err := p.RoundTrip(req)
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
	req, err := http.NewRequest(http.MethodPost, "http://gateway.invalid/v1/chat/completions", strings.NewReader(chatBody))
	require.NoError(t, err)
	_, err = p.RoundTrip(req)
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
			req, err := http.NewRequest(http.MethodPost, "http://gateway.invalid/v1/embeddings", strings.NewReader(`{"model":"m","input":"x"}`))
			require.NoError(t, err)
			_, err = p.RoundTrip(req)
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

		req, err := http.NewRequest(http.MethodPost, "http://gateway.invalid/v1/chat/completions", strings.NewReader(chatBody))
		require.NoError(t, err)
		resp, err := p.RoundTrip(req)
		assert.Nil(t, resp)
		require.ErrorIs(t, err, gateway.ErrUpstream, "status %d", status)
		assert.Contains(t, err.Error(), "redirect")
		assert.NotContains(t, err.Error(), elsewhere.URL)

		// Nor by the SDK's http.Client in client mode.
		resp = oaiPost(t, gateway.NewClient(p), "/v1/chat/completions", chatBody)
		assert.Equal(t, http.StatusBadGateway, resp.StatusCode, "status %d", status)
		assert.Len(t, up.Seen(), 2)
	}
	assert.Empty(t, elsewhere.Seen(), "a redirect target never sees the request or the key")
}
