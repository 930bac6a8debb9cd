package gateway_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// bodyCounter is a middleware that counts response bodies opened and closed.
type bodyCounter struct{ opened, closed atomic.Int64 }

type countedBody struct {
	io.ReadCloser
	once sync.Once
	c    *bodyCounter
}

func (b *countedBody) Close() error {
	b.once.Do(func() { b.c.closed.Add(1) })
	return b.ReadCloser.Close()
}

func (c *bodyCounter) middleware(next http.RoundTripper) http.RoundTripper {
	return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		if err == nil {
			c.opened.Add(1)
			resp.Body = &countedBody{ReadCloser: resp.Body, c: c}
		}
		return resp, err
	})
}

// RELIABILITY 38: 1000 streams cancelled midway leave no goroutine behind and
// every upstream body closed.
func TestThousandStreamsCancelledMidway(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{TokensPerSecond: 500, CompletionTokens: 10000})
	counter := &bodyCounter{}
	srv := httptest.NewServer(gateway.NewHandler(gateway.Chain(sim, counter.middleware)))
	transport := &http.Transport{MaxIdleConnsPerHost: 100}
	client := &http.Client{Transport: transport}

	const streams, parallel = 1000, 100
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	var failures atomic.Int64
	for range streams {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/chat/completions",
				strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"go on"}]}`))
			resp, err := client.Do(req)
			if err != nil {
				failures.Add(1)
				return
			}
			r := bufio.NewReader(resp.Body)
			for events := 0; events < 3; {
				line, err := r.ReadString('\n')
				if err != nil {
					failures.Add(1)
					break
				}
				if strings.HasPrefix(line, "data: ") {
					events++
				}
			}
			cancel() // midway: thousands of tokens still to come
			resp.Body.Close()
		}()
	}
	wg.Wait()
	srv.Close() // waits for every handler to return
	transport.CloseIdleConnections()

	require.Zero(t, failures.Load())
	assert.EqualValues(t, streams, counter.opened.Load())
	assert.EqualValues(t, streams, counter.closed.Load(), "every upstream body closed")
}

// RELIABILITY 37: a caller that stops reading a stream cannot hold it open;
// the per-write deadline ends the handler and closes the upstream body.
func TestStalledReaderIsCutByStreamWriteTimeout(t *testing.T) {
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 1 << 20, Reply: strings.Repeat("word ", 64)})
	counter := &bodyCounter{}
	srv := httptest.NewServer(gateway.NewHandler(gateway.Chain(sim, counter.middleware),
		gateway.WithStreamWriteTimeout(50*time.Millisecond)))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","stream":true,"messages":[]}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	// Read nothing: socket buffers fill and the handler's writes block.
	require.Eventually(t, func() bool { return counter.closed.Load() == 1 }, 20*time.Second, 10*time.Millisecond,
		"the handler gave up on the stalled reader and closed the upstream body")
}
