package gateway_test

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

// afterDone is a stream body that, once its events up to [DONE] are read,
// blocks until the request's context ends and then fails with its error, as
// an upstream connection does when the caller's leaving cancels it.
type afterDone struct {
	r    io.Reader
	done <-chan struct{}
	err  func() error
}

func (b *afterDone) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		<-b.done
		return n, b.err()
	}
	return n, err
}

func (b *afterDone) Close() error { return nil }

// A caller that read a stream to its [DONE] and then hung up got its whole
// answer: the call is a 200 with the stream's usage, not a 499, even when
// the server's next read of the upstream sees the cancellation first.
func TestStreamReadToDoneThenClosedIsNoClientClose(t *testing.T) {
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		ctx := req.Context()
		body := &afterDone{r: strings.NewReader(chunk("Hello") + usageOnly + "data: [DONE]\n\n"), done: ctx.Done(), err: ctx.Err}
		return sseReply(req, body), nil
	}}
	observed := make(chan *gateway.Call, 1)
	srv := httptest.NewServer(gateway.NewHandler(p, gateway.WithObserver(func(c *gateway.Call) { observed <- c })))
	defer srv.Close()

	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && sc.Text() != "data: [DONE]" {
	}
	require.Equal(t, "data: [DONE]", sc.Text())
	require.NoError(t, resp.Body.Close()) // the caller leaves with its whole answer
	srv.CloseClientConnections()

	c := <-observed
	status, cerr := c.Result()
	assert.Equal(t, http.StatusOK, status)
	assert.NoError(t, cerr)
	u, ok := c.Usage()
	require.True(t, ok)
	assert.Equal(t, gateway.Usage{PromptTokens: 7, CompletionTokens: 2}, u)
}
