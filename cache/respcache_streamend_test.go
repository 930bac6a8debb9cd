package cache

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

// lateEOF is a stream body that hands over every event, [DONE] included,
// then answers one more read with nothing until released (the caller has
// read [DONE] and closed by then), and only then ends.
type lateEOF struct {
	r        io.Reader
	released <-chan struct{}
	waited   bool
}

func (b *lateEOF) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF && !b.waited {
		b.waited = true
		<-b.released
		return n, nil // nothing yet: the end comes at the next read
	}
	return n, err
}

func (b *lateEOF) Close() error { return nil }

// A stream whose caller read its [DONE] and left before the upstream's body
// reported its end is kept all the same: [DONE] makes it whole, and the
// next identical call is a hit. (Kept only at the upstream's EOF, such an
// answer was abandoned as one nobody read, a race every SDK that closes at
// [DONE] could lose.)
func TestResponseCacheKeepsAStreamWhoseCallerLeftAfterDone(t *testing.T) {
	released := make(chan struct{})
	const events = `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"kept"}}]}` + "\n\n" +
		`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}` + "\n\n" +
		"data: [DONE]\n\n"
	var upstream int
	p := gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		upstream++
		req.Body.Close()
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}, Request: req,
			Body: &lateEOF{r: strings.NewReader(events), released: released}}, nil
	})
	rc, err := NewResponseCache(ResponseConfig{})
	require.NoError(t, err)
	client := openai.NewClient(option.WithHTTPClient(gateway.NewClient(gateway.Chain(namedRT{"up", p}, rc.Middleware()))),
		option.WithBaseURL("http://gateway.invalid/v1"), option.WithAPIKey("k"), option.WithMaxRetries(0))

	ctx := context.Background()
	text, _ := streamText(t, client.Chat.Completions.NewStreaming(ctx, chat(zero, "stream me")))
	require.Equal(t, "kept", text)
	close(released) // the caller has closed; the upstream's read comes back empty
	require.Eventually(t, func() bool { return rc.Stats().Flights == 0 }, 10*time.Second, time.Millisecond, "the flight ends")

	var second *http.Response
	text2, _ := streamText(t, client.Chat.Completions.NewStreaming(ctx, chat(zero, "stream me"), option.WithResponseInto(&second)))
	assert.Equal(t, "kept", text2)
	assert.Equal(t, ResultHit, second.Header.Get(HeaderCacheStatus))
	assert.Equal(t, 1, upstream, "the second call was served what was kept")
}

// namedRT is a Provider made of a RoundTripper.
type namedRT struct {
	name string
	rt   http.RoundTripper
}

func (n namedRT) Name() string                                        { return n.name }
func (n namedRT) RoundTrip(req *http.Request) (*http.Response, error) { return n.rt.RoundTrip(req) }
