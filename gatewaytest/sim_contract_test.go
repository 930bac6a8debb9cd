package gatewaytest_test

import (
	"context"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/gatewaytest"
)

func TestSimRateLimitHeaders(t *testing.T) {
	plain := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	resp, _ := simDo(t, direct(plain), http.MethodPost, "/v1/chat/completions", simChatBody)
	assert.Empty(t, resp.Header.Get("X-Ratelimit-Remaining-Requests"))

	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{RateLimitHeaders: func() (int, int) { return 7, 9000 }})
	resp, _ = simDo(t, direct(s), http.MethodPost, "/v1/chat/completions", simChatBody)
	assert.Equal(t, "7", resp.Header.Get("x-ratelimit-remaining-requests"))
	assert.Equal(t, "9000", resp.Header.Get("x-ratelimit-remaining-tokens"))
	resp, _ = simDo(t, direct(s), http.MethodPost, "/v1/chat/completions", `{"model":"m","stream":true,"messages":[]}`)
	assert.Equal(t, "7", resp.Header.Get("x-ratelimit-remaining-requests"))
}

// trackedBody records that it was closed.
type trackedBody struct {
	io.Reader
	closed bool
}

func (b *trackedBody) Close() error { b.closed = true; return nil }

func TestSimRoundTripContract(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Models: []string{"m1"}})
	for _, tc := range []struct{ name, method, path, body string }{
		{"chat", http.MethodPost, "/v1/chat/completions", simChatBody},
		{"stream", http.MethodPost, "/v1/chat/completions", `{"model":"m1","stream":true,"messages":[]}`},
		{"refused", http.MethodPost, "/v1/chat/completions", `{"model":"nope","messages":[]}`},
		{"bad", http.MethodPost, "/v1/embeddings", `{"model":"m1","input":"x","encoding_format":"hex"}`},
		{"models", http.MethodGet, "/v1/models", "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := callReq(t, context.Background(), tc.method, tc.path, tc.body)
			// The Sim reads the Outbound, not req.Body, which it closes.
			tb := &trackedBody{Reader: strings.NewReader(tc.body)}
			req.Body = tb
			req.Header.Set("Authorization", "Bearer k")
			url, hdr := req.URL.String(), req.Header.Clone()

			resp, err := s.RoundTrip(req)
			require.NoError(t, err)
			require.NotNil(t, resp.Body)
			assert.True(t, tb.closed, "request body closed")
			assert.Same(t, tb, req.Body, "request not modified")
			assert.Equal(t, url, req.URL.String())
			assert.Equal(t, hdr, req.Header)
			assert.Same(t, req, resp.Request)
			_, err = io.Copy(io.Discard, resp.Body)
			assert.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			_, err = resp.Body.Read(make([]byte, 8))
			assert.Error(t, err, "read after close")
		})
	}
}

func TestSimBodyFailsAfterCancel(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := s.RoundTrip(callReq(t, ctx, http.MethodPost, "/v1/chat/completions", simChatBody))
	require.NoError(t, err)
	defer resp.Body.Close()
	cancel()
	_, err = io.ReadAll(resp.Body)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestSimConfigErrors(t *testing.T) {
	for name, cfg := range map[string]gatewaytest.SimConfig{
		"negative latency":  {Latency: -1},
		"negative ttft":     {TTFT: -1},
		"negative tps":      {TokensPerSecond: -1},
		"NaN tps":           {TokensPerSecond: math.NaN()},
		"negative tokens":   {CompletionTokens: -1},
		"negative dims":     {EmbeddingDims: -1},
		"blank reply":       {Reply: "  "},
		"empty model":       {Models: []string{""}},
		"rate above 1":      {Faults: gatewaytest.Faults{ErrorRate: 1.5}},
		"negative rate":     {Faults: gatewaytest.Faults{CutRate: -0.1}},
		"NaN rate":          {Faults: gatewaytest.Faults{StallRate: math.NaN()}},
		"status not error":  {Faults: gatewaytest.Faults{ErrorStatuses: []int{200}}},
		"negative cutafter": {Faults: gatewaytest.Faults{CutAfter: -1}},
		"negative retry":    {Faults: gatewaytest.Faults{RetryAfter: -1}},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Error(t, cfg.Validate())
			_, err := gatewaytest.NewSim("sim", cfg)
			assert.Error(t, err)
			assert.Panics(t, func() { gatewaytest.MustNewSim("sim", cfg) })
		})
	}
	assert.NoError(t, gatewaytest.SimConfig{}.Validate())
	_, err := gatewaytest.NewSim("", gatewaytest.SimConfig{})
	assert.Error(t, err)
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Faults: gatewaytest.Faults{ErrorRate: 0.5}})
	assert.Error(t, s.SetFaults(gatewaytest.Faults{TimeoutRate: 2}))
	assert.Equal(t, 0.5, s.Faults().ErrorRate, "invalid faults change nothing")

	// Every invalid field is reported at once.
	err = gatewaytest.SimConfig{Latency: -1, CompletionTokens: -1, Faults: gatewaytest.Faults{ErrorRate: 2, CutAfter: -1}}.Validate()
	require.Error(t, err)
	for _, want := range []string{"latency", "CompletionTokens", "ErrorRate", "CutAfter"} {
		assert.Contains(t, err.Error(), want)
	}
}
