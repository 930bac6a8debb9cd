package gateway

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/llmgate/gateway/internal/sse"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The hold's and the tap's buffers come from pools and go back when a
// stream has been read: streams held and tapped at once, each read to its
// end, then others on the buffers they gave back, each get exactly their
// own bytes (run with -race).
func TestPooledStreamBuffersNeverMixStreams(t *testing.T) {
	const workers, each = 8, 40
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				var b strings.Builder
				for j := range 30 {
					fmt.Fprintf(&b, `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"w%d-s%d-e%d %s"}}]}`+"\n\n",
						w, i, j, strings.Repeat("x", (w*each+i+j)%300))
				}
				b.WriteString(usageChunk + doneEvent)
				want := b.String()

				c := testCall(t, `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
				c.Stream, c.IncludeUsage = true, true
				resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
					Body: io.NopCloser(strings.NewReader(want))}
				held, err := holdFirstContent(t.Context(), resp)
				if !assert.NoError(t, err) {
					return
				}
				c.tap.init(c, held.Body, 200, true, sse.DefaultMaxLine)
				got, err := io.ReadAll(&c.tap)
				require.NoError(t, err)
				if !assert.Equal(t, want, string(got), "worker %d stream %d", w, i) {
					return
				}
				require.NoError(t, c.tap.Close())
			}
		}()
	}
	wg.Wait()
}
