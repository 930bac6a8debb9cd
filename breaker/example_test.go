package breaker_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
)

// The usual stack over one provider: Retry outside, then the provider's
// circuit breaker, then timeouts that hold a stream until its first token.
func Example() {
	sim := gatewaytest.NewSim("sim", gatewaytest.SimConfig{Seed: 1})
	cb := breaker.NewCircuitBreaker("sim", breaker.Config{})
	rt := gateway.Chain(sim,
		breaker.Retry(breaker.RetryConfig{}),
		cb.Middleware(),
		breaker.Timeouts(breaker.TimeoutConfig{FirstToken: 20 * time.Second}),
	)
	client := gateway.NewClient(rt) // for openai-go: option.WithHTTPClient(client), option.WithMaxRetries(0)

	resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		panic(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, cb.State())
	// Output: 200 closed
}

func ExampleRetry() {
	sim := gatewaytest.NewSim("sim", gatewaytest.SimConfig{Seed: 1})
	sim.SetFaults(gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{503}})
	budget := breaker.NewBudget(breaker.BudgetConfig{}) // share it with the router and Hedge
	client := gateway.NewClient(gateway.Chain(sim, breaker.Retry(breaker.RetryConfig{
		MaxAttempts: 3,
		BaseDelay:   time.Millisecond,
		Budget:      budget,
	})))
	resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, "after", sim.Requests(), "attempts")
	// Output: 503 after 3 attempts
}

func ExampleNewCircuitBreaker() {
	cb := breaker.NewCircuitBreaker("openai", breaker.Config{
		FailureThreshold: 3,
		Delay:            10 * time.Second,
		HalfOpenProbes:   2,
		OnStateChange:    func(from, to breaker.State) { fmt.Println("openai:", from, "->", to) },
	})
	failing := gateway.RoundTripperFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 500, Body: http.NoBody}, nil
	})
	rt := cb.Wrap(failing)
	for range 4 {
		req, _ := http.NewRequest(http.MethodPost, "http://gateway.invalid/v1/chat/completions", nil)
		if resp, err := rt.RoundTrip(req); err != nil {
			fmt.Println(err)
		} else {
			resp.Body.Close()
		}
	}
	// Output:
	// openai: closed -> open
	// breaker: circuit open
}

func ExampleRetryAfter() {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, h := range []http.Header{
		{"Retry-After": {"7"}},
		{"Retry-After-Ms": {"1500"}},
		{"Retry-After": {"Sun, 01 Jun 2025 12:00:30 GMT"}},
		{"Retry-After": {"86400"}},
		{"Retry-After": {"-1"}},
	} {
		d, ok := breaker.RetryAfter(h, now, time.Minute)
		fmt.Println(d, ok)
	}
	// Output:
	// 7s true
	// 1.5s true
	// 30s true
	// 1m0s true
	// 0s false
}

func ExampleClassify() {
	for _, status := range []int{200, 400, 429, 500, 503} {
		c := breaker.Classify(nil, &http.Response{StatusCode: status, Body: http.NoBody}, nil)
		fmt.Println(status, c, c.Retryable(), c.Failure())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://gateway.invalid/v1/chat/completions", nil)
	fmt.Println(breaker.Classify(req, nil, context.Canceled))
	// Output:
	// 200 success false false
	// 400 fatal false false
	// 429 rate_limited true false
	// 500 retryable true true
	// 503 overloaded true true
	// canceled
}

func ExampleAwaitFirstContent() {
	stream := "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n" +
		"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n" +
		"data: [DONE]\n\n"
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
		Body: io.NopCloser(strings.NewReader(stream))}
	resp, err := breaker.AwaitFirstContent(context.Background(), resp, nil, 20*time.Second)
	if err != nil {
		fmt.Println("retry elsewhere:", err) // nothing has reached the caller yet
		return
	}
	b, _ := io.ReadAll(resp.Body) // every byte, the held-back ones first
	resp.Body.Close()
	fmt.Println(len(b) == len(stream))

	cut := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
		Body: io.NopCloser(strings.NewReader("data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n"))}
	_, err = breaker.AwaitFirstContent(context.Background(), cut, nil, 0)
	fmt.Println(err, breaker.Classify(nil, nil, err))
	// Output:
	// true
	// breaker: stream failed before its first content retryable
}

func ExampleNewBudget() {
	b := breaker.NewBudget(breaker.BudgetConfig{Ratio: 0.1, MinRetries: 2})
	for range 100 {
		b.OnRequest() // every call, once
	}
	retries := 0
	for b.TryRetry() { // every retry, hedge or fallback
		retries++
	}
	fmt.Println(retries)
	// Output: 12
}

func ExampleHedge() {
	sim := gatewaytest.NewSim("sim", gatewaytest.SimConfig{Seed: 1})
	client := gateway.NewClient(gateway.Chain(sim,
		breaker.Hedge(breaker.HedgeConfig{Percentile: 0.95, Delay: 2 * time.Second})))
	resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, sim.Requests())
	// Output: 200 1
}

func ExampleNewBulkhead() {
	b := breaker.NewBulkhead(1, breaker.BulkheadConfig{})
	slot, _ := b.Acquire(context.Background())
	_, err := b.Acquire(context.Background())
	fmt.Println(err)
	slot.Release(breaker.Success)
	slot, err = b.Acquire(context.Background())
	fmt.Println(err, b.InFlight())
	slot.Release(breaker.Success)
	// Output:
	// breaker: too many calls in flight to this upstream
	// <nil> 1
}

// An adaptive bulkhead over a provider: failsafe-go's adaptive limiter
// moves the limit between MinLimit and 64 as latencies trend, starting at
// InitialLimit.
func ExampleBulkheadConfig_adaptive() {
	sim := gatewaytest.NewSim("sim", gatewaytest.SimConfig{Seed: 1})
	b := breaker.NewBulkhead(64, breaker.BulkheadConfig{Adaptive: true, MinLimit: 4, InitialLimit: 16, MaxWait: time.Second})
	client := gateway.NewClient(gateway.Chain(sim, b.Middleware()))
	resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		panic(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, b.Limit(), b.InFlight())
	// Output: 200 16 0
}
