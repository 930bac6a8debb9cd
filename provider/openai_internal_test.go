package provider

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

// The upstream request carries the body it is given, whole and replayable
// (GetBody, for net/http's retry of a request on a reused connection), with
// its length, and the headers of its kind.
func TestNewRequestSendsTheBodyItIsGiven(t *testing.T) {
	p, err := NewOpenAI(OpenAIConfig{BaseURL: "https://api.example.invalid/v1", APIKey: "sk-internal-0123456789"})
	require.NoError(t, err)
	defer p.CloseIdleConnections()
	body := []byte(`{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[]}`)
	for _, stream := range []bool{false, true} {
		out, err := p.newRequest(context.Background(), gateway.OpChat, "m", body, stream)
		require.NoError(t, err)
		assert.Equal(t, http.MethodPost, out.Method)
		assert.Equal(t, "https://api.example.invalid/v1/chat/completions", out.URL.String())
		assert.EqualValues(t, len(body), out.ContentLength)
		b, err := io.ReadAll(out.Body)
		require.NoError(t, err)
		assert.Equal(t, body, b)
		for range 2 {
			rc, err := out.GetBody()
			require.NoError(t, err)
			b, err = io.ReadAll(rc)
			require.NoError(t, err)
			assert.Equal(t, body, b, "GetBody replays the same bytes")
		}
		assert.Equal(t, "Bearer sk-internal-0123456789", out.Header.Get("Authorization"))
		assert.Equal(t, "application/json", out.Header.Get("Content-Type"))
		if stream {
			assert.Equal(t, "text/event-stream", out.Header.Get("Accept"))
			assert.Equal(t, "identity", out.Header.Get("Accept-Encoding"))
		} else {
			assert.Equal(t, "application/json", out.Header.Get("Accept"))
		}
	}

	models, err := p.newRequest(context.Background(), gateway.OpModels, "", nil, false)
	require.NoError(t, err)
	assert.Equal(t, http.MethodGet, models.Method)
	assert.Nil(t, models.Body)
	assert.Empty(t, models.Header.Get("Content-Type"))
}

func TestScrub(t *testing.T) {
	p := &OpenAI{secrets: []string{"sk-secret-123456", "org-secret-abcdef"}}
	for _, tc := range []struct{ in, want string }{
		{"dial tcp 127.0.0.1:1: connect: connection refused", "dial tcp 127.0.0.1:1: connect: connection refused"},
		{`Post "https://h/v1/chat?key=abc&b=c": EOF`, `Post "https://h/v1/chat?[REDACTED]": EOF`},
		{"https://h/v1?key=abc", "https://h/v1?[REDACTED]"},
		{"bad key sk-secret-123456 for org-secret-abcdef", "bad key [REDACTED] for [REDACTED]"},
		{"is this ok? yes", "is this ok? yes"},
		{"a?b c?d", "a?[REDACTED] c?[REDACTED]"},
		{"trailing?", "trailing?"},
	} {
		assert.Equal(t, tc.want, p.scrub(tc.in), tc.in)
	}
}
