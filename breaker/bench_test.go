package breaker_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
)

// static answers every call with the same response and allocates nothing,
// so a benchmark measures only what wraps it. It is not a Provider, so no
// middleware records attempts over it.
type static struct{ resp *http.Response }

func (s *static) RoundTrip(*http.Request) (*http.Response, error) { return s.resp, nil }

// staticProvider is static with a name: Retry records an attempt per call
// over it (through the breaker, which keeps the name).
type staticProvider struct{ static }

func (p *staticProvider) Name() string { return "static" }

// BenchmarkRetryCircuitBreakerOverhead measures the success path of
// Retry(CircuitBreaker(next)) against calling next directly; the difference
// is the overhead of the two middlewares. The recording variants build a
// Call per operation, as an entry point does, and record the attempt on it
// (which the entry point does itself over a bare provider).
func BenchmarkRetryCircuitBreakerOverhead(b *testing.B) {
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: http.NoBody}
	next := &static{resp: resp}
	body := []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	call, err := gateway.ParseCall(gateway.OpChat, body, gateway.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(gateway.WithCall(context.Background(), call), http.MethodPost,
		"http://gateway.invalid/v1/chat/completions", http.NoBody)
	run := func(b *testing.B, rt http.RoundTripper) {
		b.ReportAllocs()
		for b.Loop() {
			resp, err := rt.RoundTrip(req)
			if err != nil || resp.StatusCode != 200 {
				b.Fatal(err)
			}
		}
	}
	b.Run("direct", func(b *testing.B) { run(b, next) })
	b.Run("Retry(CircuitBreaker)", func(b *testing.B) {
		cb := breaker.NewCircuitBreaker("static", breaker.Config{})
		run(b, gateway.Chain(next, breaker.Retry(breaker.RetryConfig{}), cb.Middleware()))
	})
	b.Run("Retry(CircuitBreaker)/parallel", func(b *testing.B) {
		cb := breaker.NewCircuitBreaker("static", breaker.Config{})
		rt := gateway.Chain(next, breaker.Retry(breaker.RetryConfig{}), cb.Middleware())
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := rt.RoundTrip(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	})

	clk := gateway.SystemClock{}
	recording := func(b *testing.B, rt http.RoundTripper, record bool) {
		b.ReportAllocs()
		for b.Loop() {
			c := &gateway.Call{Op: gateway.OpChat, Model: "m", Body: body, Start: clk.Now()}
			r := req.WithContext(gateway.WithCall(context.Background(), c))
			resp, err := rt.RoundTrip(r)
			if err != nil || resp.StatusCode != 200 {
				b.Fatal(err)
			}
			if record { // what the entry point does over a bare provider
				c.RecordAttempt(gateway.Attempt{Target: "static", Model: c.Model, Status: resp.StatusCode,
					Start: c.Start, Latency: clk.Now().Sub(c.Start)})
			}
		}
	}
	p := &staticProvider{static{resp: resp}}
	b.Run("direct/recording", func(b *testing.B) { recording(b, p, true) })
	b.Run("Retry(CircuitBreaker)/recording", func(b *testing.B) {
		cb := breaker.NewCircuitBreaker("static", breaker.Config{})
		recording(b, gateway.Chain(p, breaker.Retry(breaker.RetryConfig{}), cb.Middleware()), false)
	})
}

// BenchmarkFaultMix sends calls through Retry (with Timeouts inside) over
// one simulated provider where 7.2% of upstream calls fail: 500, 503 and
// 429 answers, hung requests (cut by a 1 ms header timeout) and connection
// resets. It reports the share of calls that still fail and the
// amplification (upstream attempts per call).
func BenchmarkFaultMix(b *testing.B) {
	sim := gatewaytest.NewSim("a", gatewaytest.SimConfig{Seed: 7, Faults: gatewaytest.Faults{
		ErrorRate: 0.05, ErrorStatuses: []int{500, 503, 429},
		TimeoutRate: 0.012, ResetRate: 0.012, // 1 - 0.988² × 0.95 ≈ 7.27% of attempts fail
	}})
	rt := gateway.Chain(sim,
		breaker.Retry(breaker.RetryConfig{BaseDelay: 100 * time.Microsecond, MaxDelay: time.Millisecond}),
		breaker.Timeouts(breaker.TimeoutConfig{Header: time.Millisecond}))
	client := gateway.NewClient(rt)
	body := `{"model":"m","messages":[{"role":"user","content":"hello"}]}`
	failed := 0
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			failed++
		}
	}
	fc := sim.FaultCounts()
	faults := fc.Errors + fc.Timeouts + fc.Resets
	b.ReportMetric(100*float64(failed)/float64(b.N), "failed%")
	b.ReportMetric(float64(sim.Requests())/float64(b.N), "attempts/call")
	b.ReportMetric(100*float64(faults)/float64(sim.Requests()), "upstream-fault%")
}
