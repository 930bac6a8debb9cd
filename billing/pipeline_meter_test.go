package billing

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

// fixedAnswer is the cheapest provider that reports usage: the test
// measures the meter and the pipeline, not a simulator's JSON.
type fixedAnswer struct{}

func (fixedAnswer) Name() string { return "fixed" }

func (fixedAnswer) RoundTrip(req *http.Request) (*http.Response, error) {
	req.Body.Close()
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Request: req,
		Body: io.NopCloser(strings.NewReader(`{"choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":3}}`))}, nil
}

// Issue 11 and RELIABILITY.md case 20: 100k calls from 64 goroutines
// through the Meter (a client-mode chain over a fixed answer) into the
// pipeline and the PostgreSQL ledger, then Close: exactly 100k rows, one
// per call id, each costed.
func TestHundredThousandCallsThroughTheMeterIntoPostgres(t *testing.T) {
	pool, cfg := postgresForTest(t)
	pg, err := NewPostgres(context.Background(), pool, cfg)
	require.NoError(t, err)
	p, err := NewPipeline(PipelineConfig{Dir: t.TempDir(), Sinks: map[string]Sink{"ledger": pg}, BatchSize: 2048})
	require.NoError(t, err)
	m, err := NewMeter(p, MeterConfig{})
	require.NoError(t, err)
	client := gateway.NewClient(gateway.Chain(fixedAnswer{}, m.Middleware()))

	const calls, workers = 100_000, 64
	const body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < calls; i += workers {
				req, _ := http.NewRequest(http.MethodPost, "http://gateway.invalid/v1/chat/completions", strings.NewReader(body))
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	called := time.Since(start)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, p.Close(ctx))
	t.Logf("calls took %v, Close %v more; %+v", called, time.Since(start)-called, p.Stats())

	rows, keys := ledgerCounts(t, pool, cfg)
	assert.Equal(t, calls, rows)
	assert.Equal(t, calls, keys)
	var calls1, uncosted int
	require.NoError(t, pool.QueryRow(context.Background(),
		"SELECT count(DISTINCT call_id), count(*) FILTER (WHERE NOT cost_known OR cost_nano_usd <= 0) FROM "+cfg.ident("")).Scan(&calls1, &uncosted))
	assert.Equal(t, calls, calls1, "one record per call: each went to one attempt")
	assert.Zero(t, uncosted)
	st := p.Stats()
	assert.Equal(t, uint64(calls), st.Enqueued)
	assert.Zero(t, st.Dropped)
}
