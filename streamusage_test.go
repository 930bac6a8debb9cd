package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

// Regression (issue 8): a crafted body turned usage off at a Go upstream
// (escaped, case-variant or duplicate include_usage or stream_options) while
// the gateway believed it on, so a call that cost 777 tokens upstream was
// logged as an estimate of 7. Such bodies are refused before dispatch, and
// every stream the gateway sends asks a Go upstream for usage, which the
// call then records as the upstream's truth.
func TestStreamUsageCannotBeTurnedOffUpstream(t *testing.T) {
	// A Go upstream: encoding/json folds case and takes the last match.
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		b := gateway.OutboundFrom(req.Context()).Body
		var v struct {
			StreamOptions *struct {
				IncludeUsage bool `json:"include_usage"`
			} `json:"stream_options"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, err
		}
		events := chunk("Hello")
		if v.StreamOptions != nil && v.StreamOptions.IncludeUsage {
			events += strings.Replace(usageOnly, `"prompt_tokens":7`, `"prompt_tokens":777`, 1)
		}
		return sseReply(req, io.NopCloser(strings.NewReader(events+"data: [DONE]\n\n"))), nil
	}}
	var mu sync.Mutex
	var ended []*gateway.Call
	client := gateway.NewClient(p, gateway.WithObserver(func(c *gateway.Call) {
		mu.Lock()
		ended = append(ended, c)
		mu.Unlock()
	}))
	post := func(body string) (int, *gateway.Call) {
		t.Helper()
		resp, err := client.Post("https://api.openai.com/v1/chat/completions", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		require.NoError(t, resp.Body.Close())
		mu.Lock()
		defer mu.Unlock()
		require.NotEmpty(t, ended)
		return resp.StatusCode, ended[len(ended)-1]
	}
	const head = `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}],`

	for _, opts := range []string{
		`"stream_options":{"include_usage":true,"include\u005fusage":false}`,
		`"stream_options":{"include_usage":true,"Include_Usage":false}`,
		`"stream_options":{"include_usage":true,"include_u\u017fage":false}`,
		`"stream_options":{"include_usage":true},"stream_options":{}`,
		`"stream_options":{"include_usage":true},"Stream_Options":null`,
	} {
		status, _ := post(head + opts + `}`)
		assert.Equal(t, http.StatusBadRequest, status, opts)
	}
	assert.Zero(t, p.calls.Load(), "refused before dispatch")

	for _, opts := range []string{
		`"stream_options":{"include_usage":true}`,
		`"stream_options":{"include_usage":false}`,
		`"stream_options":{"x":1}`,
		`"stream_options":null`,
		`"n":1`,
	} {
		status, c := post(head + opts + `}`)
		require.Equal(t, http.StatusOK, status, opts)
		u, ok := c.Usage()
		require.True(t, ok, opts)
		assert.Equal(t, 777, u.PromptTokens, opts)
		assert.False(t, u.Estimated, "%s: the upstream reported usage", opts)
	}
}
