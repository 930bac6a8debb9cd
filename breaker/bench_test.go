package breaker_test

import (
	"bytes"
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
// attempt boundary is put in front of it, and it needs no Call.
type static struct{ resp *http.Response }

// emptyObject is an answer body that reads "{}" and its end at every Read:
// a model call's answer that the attempt boundary's check passes, shared by
// every response without an allocation of its own.
type emptyObject struct{}

func (emptyObject) Read(p []byte) (int, error) { return copy(p, "{}"), io.EOF }
func (emptyObject) Close() error               { return nil }

func (s *static) RoundTrip(*http.Request) (*http.Response, error) { return s.resp, nil }

// staticProvider is a Provider answering a copy of the same response (the
// attempt boundary and the entry point wrap a response's body, so it cannot
// be shared): gateway.Chain puts a boundary in front of it, which records
// an attempt per round trip.
type staticProvider struct{ resp *http.Response }

func (p *staticProvider) Name() string { return "static" }

func (p *staticProvider) RoundTrip(*http.Request) (*http.Response, error) {
	r := *p.resp
	return &r, nil
}

// BenchmarkRetryCircuitBreakerOverhead measures the success path of
// Retry(CircuitBreaker(next)) against calling next directly; the difference
// is the overhead of the two middlewares. The entry variants send each call
// through the client-mode entry point, which parses a Call, over a
// Provider behind its attempt boundary, which records the attempt: the
// difference between them is the same two middlewares' overhead in a real
// call.
func BenchmarkRetryCircuitBreakerOverhead(b *testing.B) {
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: emptyObject{}}
	next := &static{resp: resp}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost,
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
		cb := must(breaker.NewCircuitBreaker("static", breaker.Config{}))
		run(b, gateway.Chain(next, must(breaker.Retry(breaker.RetryConfig{})), cb.Middleware()))
	})
	b.Run("Retry(CircuitBreaker)/parallel", func(b *testing.B) {
		cb := must(breaker.NewCircuitBreaker("static", breaker.Config{}))
		rt := gateway.Chain(next, must(breaker.Retry(breaker.RetryConfig{})), cb.Middleware())
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := rt.RoundTrip(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	})

	body := []byte(chatBody(false))
	entry := func(b *testing.B, rt http.RoundTripper) {
		client := gateway.NewClient(rt)
		b.ReportAllocs()
		for b.Loop() {
			resp, err := client.Post(chatURL, "application/json", bytes.NewReader(body))
			if err != nil || resp.StatusCode != 200 {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	p := &staticProvider{resp: resp}
	b.Run("entry/direct", func(b *testing.B) { entry(b, p) })
	b.Run("entry/Retry(CircuitBreaker)", func(b *testing.B) {
		cb := must(breaker.NewCircuitBreaker("static", breaker.Config{}))
		entry(b, gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{})), cb.Middleware()))
	})
}

// BenchmarkFaultMix sends calls through Retry (with Timeouts inside) over
// one simulated provider where 7.2% of upstream calls fail: 500, 503 and
// 429 answers, hung requests (cut by a 1 ms header timeout) and connection
// resets. It reports the share of calls that still fail and the
// amplification (upstream attempts per call).
func BenchmarkFaultMix(b *testing.B) {
	sim := must(gatewaytest.NewSim("a", gatewaytest.SimConfig{Seed: 7, Faults: gatewaytest.Faults{
		ErrorRate: 0.05, ErrorStatuses: []int{500, 503, 429},
		TimeoutRate: 0.012, ResetRate: 0.012, // 1 - 0.988² × 0.95 ≈ 7.27% of attempts fail
	}}))
	rt := gateway.Chain(sim,
		must(breaker.Retry(breaker.RetryConfig{BaseDelay: 100 * time.Microsecond, MaxDelay: time.Millisecond})),
		must(breaker.Timeouts(breaker.TimeoutConfig{Header: time.Millisecond})))
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

// BenchmarkTimeouts measures what Timeouts adds to one attempt on the system
// clock, through the client-mode entry point over a Provider that answers at
// once ("entry/direct" in BenchmarkRetryCircuitBreakerOverhead is the same
// call without it). "stream" is a stream with a Header limit under its
// FirstToken limit, whose attempt also gets a trace that moves it to the
// first-token phase (under the default limits it gets none). Run with
// -cpu 2 to see the cost of its timer under parallel load.
func BenchmarkTimeouts(b *testing.B) {
	events := roleEvent + contentEvent("ok") + "data: [DONE]\n\n"
	run := func(b *testing.B, stream bool, cfg breaker.TimeoutConfig) {
		p := gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			if stream {
				return streamResponse(req, strings.NewReader(events)), nil
			}
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: emptyObject{}}, nil
		})
		client := gateway.NewClient(gateway.Chain(named{p}, must(breaker.Timeouts(cfg))))
		body := []byte(chatBody(stream))
		postParallel(b, client, body)
	}
	b.Run("non-stream", func(b *testing.B) { run(b, false, breaker.TimeoutConfig{}) })
	b.Run("stream", func(b *testing.B) { run(b, true, breaker.TimeoutConfig{Header: time.Minute}) })
}

// postParallel posts body to the chat path through client from parallel
// goroutines, b.N times in all, reading each answer to its end.
func postParallel(b *testing.B, client *http.Client, body []byte) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(chatURL, "application/json", bytes.NewReader(body))
			if err != nil || resp.StatusCode != 200 {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

// named makes a RoundTripper a Provider, so that it gets an attempt boundary.
type named struct{ gateway.RoundTripperFunc }

func (named) Name() string { return "static" }

// BenchmarkHedge measures what Hedge adds to an attempt answered within its
// delay (the main job's setting: the learned p99), through the client-mode
// entry point over a Provider that answers at once; "direct" is the same
// call without it. Run with -cpu 1,2: a goroutine or a timer per attempt
// shows most under parallel load. "Hedge+Timeouts" is the main job's pair.
func BenchmarkHedge(b *testing.B) {
	p := named{func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: emptyObject{}}, nil
	}}
	body := []byte(chatBody(false))
	run := func(b *testing.B, rt http.RoundTripper) {
		client := gateway.NewClient(rt)
		postParallel(b, client, body)
	}
	b.Run("direct", func(b *testing.B) { run(b, gateway.Chain(p)) })
	b.Run("Hedge", func(b *testing.B) {
		run(b, gateway.Chain(p, must(breaker.Hedge(breaker.HedgeConfig{Percentile: 0.99, MaxHedges: 2, CutAfter: 10}))))
	})
	// The main job's pair: Hedge over Timeouts, which share each attempt's
	// context.
	b.Run("Hedge+Timeouts", func(b *testing.B) {
		run(b, gateway.Chain(p, must(breaker.Hedge(breaker.HedgeConfig{Percentile: 0.99, MaxHedges: 2, CutAfter: 10})),
			must(breaker.Timeouts(breaker.TimeoutConfig{}))))
	})
}
