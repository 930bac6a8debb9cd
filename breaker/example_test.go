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
// circuit breaker, then timeouts that bound a stream's wait for its first
// token. gateway.Chain puts the provider behind the attempt boundary, which
// records each attempt and holds a stream until its first content.
func Example() {
	sim, err := gatewaytest.NewSim("sim", gatewaytest.SimConfig{Seed: 1})
	if err != nil {
		panic(err)
	}
	cb, err := breaker.NewCircuitBreaker("sim", breaker.Config{})
	if err != nil {
		panic(err)
	}
	retry, err := breaker.Retry(breaker.RetryConfig{})
	if err != nil {
		panic(err)
	}
	timeouts, err := breaker.Timeouts(breaker.TimeoutConfig{FirstToken: 20 * time.Second})
	if err != nil {
		panic(err)
	}
	rt := gateway.Chain(sim, retry, cb.Middleware(), timeouts)
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
	sim, err := gatewaytest.NewSim("sim", gatewaytest.SimConfig{Seed: 1})
	if err != nil {
		panic(err)
	}
	if err := sim.SetFaults(gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{503}}); err != nil {
		panic(err)
	}
	budget, err := breaker.NewBudget(breaker.BudgetConfig{}) // share it with the router and Hedge
	if err != nil {
		panic(err)
	}
	retry, err := breaker.Retry(breaker.RetryConfig{
		MaxAttempts: 3,
		BaseDelay:   time.Millisecond,
		Budget:      budget,
	})
	if err != nil {
		panic(err)
	}
	client := gateway.NewClient(gateway.Chain(sim, retry))
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
	cb, err := breaker.NewCircuitBreaker("openai", breaker.Config{
		FailureThreshold: 3,
		Delay:            10 * time.Second,
		HalfOpenProbes:   2,
		OnStateChange:    func(from, to breaker.State) { fmt.Println("openai:", from, "->", to) },
	})
	if err != nil {
		panic(err)
	}
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

func ExampleNewBudget() {
	b, err := breaker.NewBudget(breaker.BudgetConfig{Ratio: 0.1, MinRetries: 2})
	if err != nil {
		panic(err)
	}
	for range 100 {
		b.OnRequest() // every call, once
	}
	retries := 0
	for retries < 1000 && b.TryRetry() { // every retry, hedge or fallback
		retries++
	}
	fmt.Println(retries)
	// Output: 12
}

func ExampleHedge() {
	sim, err := gatewaytest.NewSim("sim", gatewaytest.SimConfig{Seed: 1})
	if err != nil {
		panic(err)
	}
	hedge, err := breaker.Hedge(breaker.HedgeConfig{Percentile: 0.95, Delay: 2 * time.Second})
	if err != nil {
		panic(err)
	}
	client := gateway.NewClient(gateway.Chain(sim, hedge))
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
	b, err := breaker.NewBulkhead(1, breaker.BulkheadConfig{})
	if err != nil {
		panic(err)
	}
	slot, _ := b.Acquire(context.Background())
	_, err = b.Acquire(context.Background())
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
	sim, err := gatewaytest.NewSim("sim", gatewaytest.SimConfig{Seed: 1})
	if err != nil {
		panic(err)
	}
	b, err := breaker.NewBulkhead(64, breaker.BulkheadConfig{Adaptive: true, MinLimit: 4, InitialLimit: 16, MaxWait: time.Second})
	if err != nil {
		panic(err)
	}
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
