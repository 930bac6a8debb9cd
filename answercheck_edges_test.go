package gateway_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/provider"
)

// onceBroken returns its data with an error in one Read, then io.EOF: an
// error given with bytes is the reader's only word on it.
type onceBroken struct {
	data string
	done bool
}

func (b *onceBroken) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	b.done = true
	return copy(p, b.data), io.ErrUnexpectedEOF
}

// A read error that came with the answer's first bytes is not lost by the
// answer check: the attempt fails, where the caller got the bytes before
// it as a short answer, whole, with a 200.
func TestTheAnswerCheckKeepsAReadErrorThatCameWithItsBytes(t *testing.T) {
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		return respond(req, 200, "application/json", io.NopCloser(&onceBroken{data: `{"id":"c1","obj`})), nil
	}}
	for mode, client := range sdkClients(t, p) {
		t.Run(mode, func(t *testing.T) {
			_, err := client.Chat.Completions.New(context.Background(), chatParams(false))
			apiErr := requireBadGateway(t, err)
			assert.Contains(t, apiErr.Message, "broke at its start")
		})
	}
}

// A translating adapter's failure to read its upstream's answer (Gemini's
// "not valid JSON", found at the body's first Read, which the check makes)
// keeps the adapter's words: the check does not call it a body that broke.
func TestAnAdaptersAnswerErrorKeepsItsWords(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html>Sign in</html>"))
	}))
	t.Cleanup(up.Close)
	p, err := provider.NewGemini(provider.GeminiConfig{BaseURL: up.URL + "/v1beta", APIKey: "k"})
	require.NoError(t, err)
	for mode, client := range sdkClients(t, p) {
		t.Run(mode, func(t *testing.T) {
			_, err := client.Chat.Completions.New(context.Background(), chatParams(false))
			apiErr := requireBadGateway(t, err)
			assert.NotContains(t, apiErr.Message, "broke at its start")
			assert.Contains(t, apiErr.Message, "gemini")
		})
	}
}

// An answer with a Content-Encoding (a Provider that passes the caller's
// Accept-Encoding on, so net/http leaves the body compressed) is not judged
// by its compressed bytes.
func TestTheAnswerCheckLeavesAnEncodedAnswerAlone(t *testing.T) {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write([]byte(chatReply))
	require.NoError(t, zw.Close())
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		resp := jsonReply(req, 200, z.String())
		resp.Header.Set("Content-Encoding", "gzip")
		return resp, nil
	}}
	req, err := http.NewRequest(http.MethodPost, "http://gateway.invalid/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := gateway.NewClient(p).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	zr, err := gzip.NewReader(resp.Body)
	require.NoError(t, err)
	got, err := io.ReadAll(zr)
	require.NoError(t, err)
	assert.Equal(t, chatReply, string(got))
}
