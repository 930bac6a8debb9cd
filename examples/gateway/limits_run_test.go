package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/limiter"
)

// The embedded default limits gpt-4.1 per key (the demo key's calls share
// one bucket), 5 requests a minute and 6,000 tokens, prints the limits at
// start, and leaves gpt-4o-mini free: the sixth gpt-4.1 call is a 429 with
// Retry-After and the x-ratelimit headers, and a second gpt-4.1 call while
// a first is open does not fit the tokens.
func TestRunEmbeddedDefaultLimitsGPT41(t *testing.T) {
	g := startGateway(t, "-addr", "127.0.0.1:0")
	assert.Contains(t, g.stdout.String(), "gpt-4.1-rpm: 5 requests per minute, each key, on gpt-4.1")
	assert.Contains(t, g.stdout.String(), "gpt-4.1-tpm: 6000 tokens per minute, each key, on gpt-4.1")
	require.NotEmpty(t, g.key, "the demo key")
	client := sdk(t, g.base, g.key)
	ctx := context.Background()

	// Two at once: the first (a stream held open) reserves 4096 + its
	// prompt, and the second does not fit in what is left of 6000.
	body := `{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"Hello!"}]}`
	req, err := http.NewRequest(http.MethodPost, g.base+"/v1/chat/completions", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+g.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	p := chatParams
	p.Model = "gpt-4.1"
	_, err = client.Chat.Completions.New(ctx, p)
	var apiErr *openai.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusTooManyRequests, apiErr.StatusCode)
	assert.True(t, errors.Is(gateway.ErrorFromResponse(apiErr.Response), limiter.ErrRateLimited))
	assert.Equal(t, "6000", apiErr.Response.Header.Get("X-Ratelimit-Limit-Tokens"))
	// Read to its end: the handler closes the call's body, settling its
	// reservation to its usage, before the response's last chunk is sent.
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()

	ok := 1 // the stream
	for range 6 {
		_, err := client.Chat.Completions.New(ctx, p)
		if err == nil {
			ok++
			continue
		}
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusTooManyRequests, apiErr.StatusCode)
		assert.NotEmpty(t, apiErr.Response.Header.Get("Retry-After"))
		assert.Equal(t, "0", apiErr.Response.Header.Get("X-Ratelimit-Remaining-Requests"))
		assert.Equal(t, "5", apiErr.Response.Header.Get("X-Ratelimit-Limit-Requests"))
		assert.Equal(t, "6000", apiErr.Response.Header.Get("X-Ratelimit-Limit-Tokens"),
			"refused by the request limit, the answer still tells the token limit")
	}
	assert.Equal(t, 5, ok, "5 gpt-4.1 calls a minute")
	for range 20 {
		_, err := client.Chat.Completions.New(ctx, chatParams)
		require.NoError(t, err, "gpt-4o-mini is not limited")
	}
}
