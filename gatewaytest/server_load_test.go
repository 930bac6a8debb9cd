package gatewaytest_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/llmgate/gateway/gatewaytest"
)

// RELIABILITY case 41: a zero-latency upstream streaming through the handler
// over HTTP/1.1 keep-alive connections: 2,000 streams, none cut.
func TestServerStreamsAreNotCut(t *testing.T) {
	s := gatewaytest.NewServer(gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{}))
	defer s.Close()
	const streams, workers = 2000, 8
	var next, bad atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= streams {
				resp, err := post(context.Background(), s, s.Client(), streamBody)
				if err != nil {
					bad.Add(1)
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || !strings.HasSuffix(string(b), "data: [DONE]\n\n") {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, bad.Load())
	assert.Equal(t, int64(streams), s.Count())
}
