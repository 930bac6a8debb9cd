package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/billing"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/cache"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/limiter"
	"github.com/llmgate/gateway/metrics"
	"github.com/llmgate/gateway/router"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// timed is a Provider that moves a fake clock: by latency before it
// answers, and by firstRead at the first read of its body, so attempts'
// latencies and times to first chunk are known exactly.
type timed struct {
	gateway.Provider
	clk       *gatewaytest.Clock
	latency   time.Duration
	firstRead time.Duration
}

func (p *timed) RoundTrip(req *http.Request) (*http.Response, error) {
	p.clk.Advance(p.latency)
	resp, err := p.Provider.RoundTrip(req)
	if err == nil && p.firstRead > 0 {
		resp.Body = &advancingBody{ReadCloser: resp.Body, clk: p.clk, d: p.firstRead}
	}
	return resp, err
}

type advancingBody struct {
	io.ReadCloser
	clk  *gatewaytest.Clock
	d    time.Duration
	once sync.Once
}

func (b *advancingBody) Read(p []byte) (int, error) {
	b.once.Do(func() { b.clk.Advance(b.d) })
	return b.ReadCloser.Read(p)
}

// fixture is a whole server chain: NewHandler → limiter → response cache
// → Meter (through CostRecorder into a Pipeline; a tenant budget no call
// of the sequence spends) → router over two
// targets, "openai" (tier 0) and "backup" (tier 1), each 100ms to answer
// and 50ms more to the first read of its body, on one fake clock; every
// component watched by one Metrics on its own registry.
type fixture struct {
	t       *testing.T
	clk     *gatewaytest.Clock
	reg     *prometheus.Registry
	m       *metrics.Metrics
	h       http.Handler
	primary *gatewaytest.Sim
	pipe    *billing.Pipeline

	mu      sync.Mutex
	calls   []*gateway.Call
	records []billing.Record
}

func newFixture(t *testing.T, cfg metrics.Config) *fixture {
	f := &fixture{t: t, clk: gatewaytest.NewClock(t0), reg: prometheus.NewRegistry()}
	cfg.Registerer, cfg.Clock = f.reg, f.clk
	m, err := metrics.New(cfg)
	require.NoError(t, err)
	f.m = m

	f.primary = gatewaytest.MustNewSim("openai", gatewaytest.SimConfig{CompletionTokens: 5})
	backup := gatewaytest.MustNewSim("backup", gatewaytest.SimConfig{CompletionTokens: 7})
	var targets []router.Target
	for i, p := range []gateway.Provider{f.primary, backup} {
		name := p.Name()
		cb, err := breaker.NewCircuitBreaker(name, breaker.Config{Clock: f.clk, OnStateChange: m.BreakerStateChanged(name)})
		require.NoError(t, err)
		m.WatchBreaker(name, cb)
		targets = append(targets, router.Target{
			Provider: &timed{Provider: p, clk: f.clk, latency: 100 * time.Millisecond, firstRead: 50 * time.Millisecond},
			Name:     name, Weight: 1, Tier: i, Models: []string{"*"}, Breaker: cb,
		})
	}
	rtr, err := router.New("llm", targets, router.Config{Clock: f.clk, Seed: 1})
	require.NoError(t, err)

	lim, err := limiter.New(limiter.Config{Clock: f.clk, Rules: []limiter.Rule{
		{Name: "limited-rpm", Models: []string{"limited"}, Unit: limiter.Requests, Limit: 1, Per: limiter.Minute},
	}})
	require.NoError(t, err)
	t.Cleanup(func() { lim.Close() })
	m.WatchLimiter(lim)

	rc, err := cache.NewResponseCache(cache.ResponseConfig{Clock: f.clk})
	require.NoError(t, err)
	m.WatchResponseCache("responses", rc)

	f.pipe, err = billing.NewPipeline(billing.PipelineConfig{
		Dir: filepath.Join(t.TempDir(), "wal"),
		Sinks: map[string]billing.Sink{"test": billing.SinkFunc(func(_ context.Context, batch []billing.Record) error {
			f.mu.Lock()
			f.records = append(f.records, batch...)
			f.mu.Unlock()
			return nil
		})},
	})
	require.NoError(t, err)
	t.Cleanup(func() { f.closePipeline() })
	m.WatchPipeline(f.pipe)
	meter, err := billing.NewMeter(m.CostRecorder(f.pipe), billing.MeterConfig{Clock: f.clk,
		Budget: billing.BudgetConfig{Tenants: map[string]gateway.Budget{"acme": {Limit: 2e9, Period: "day"}}}})
	require.NoError(t, err)
	m.WatchMeter(meter)
	m.WatchBudgets(meter)

	keys, err := cache.New[string, int](cache.LoaderFunc[string, int](func(context.Context, string) (int, error) { return 1, nil }), cache.Config{Clock: f.clk})
	require.NoError(t, err)
	t.Cleanup(func() { keys.Close() })
	for range 2 { // a load, then a hit
		_, err = keys.Get(context.Background(), "k")
		require.NoError(t, err)
	}
	m.WatchCache("keys", keys)
	f.h = gateway.NewHandler(
		gateway.Chain(rtr, lim.Middleware(), rc.Middleware(), meter.Middleware()),
		gateway.WithClock(f.clk), gateway.WithObserver(m.Observe), gateway.WithObserver(f.observe))
	return f
}

func (f *fixture) observe(c *gateway.Call) {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
}

func (f *fixture) closePipeline() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(f.t, f.pipe.Close(ctx))
}

// post sends one chat call and returns its status and body.
func (f *fixture) post(body string) (int, string) {
	req := httptest.NewRequest(http.MethodPost, "http://gateway.invalid/v1/chat/completions", strings.NewReader(body))
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

func chat(model string, extra string) string {
	return `{"model":"` + model + `"` + extra + `,"messages":[{"role":"user","content":"hello there"}]}`
}
