package breaker_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
)

// sdk returns an openai-go client over rt through the client-mode entry
// point, with the SDK's own retries off.
func sdk(rt http.RoundTripper) openai.Client {
	return openai.NewClient(option.WithHTTPClient(gateway.NewClient(rt)), option.WithMaxRetries(0),
		option.WithBaseURL("http://gateway.invalid/v1"), option.WithAPIKey("x"))
}

func chatParams() openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{Model: "m", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}}
}

// RELIABILITY 1 (one target): a provider answering 503 to everything sees
// only the breaker's threshold, then one probe per delay.
func TestSimOutageSeesOnlyThresholdAndProbes(t *testing.T) {
	clk := newClock()
	sim := must(gatewaytest.NewSim("a", gatewaytest.SimConfig{Clock: clk, Seed: 1,
		Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{503}}}))
	cb := must(breaker.NewCircuitBreaker("a", breaker.Config{HalfOpenProbes: 1, Delay: 30 * time.Second, Clock: clk}))
	client := sdk(gateway.Chain(sim,
		must(breaker.Retry(breaker.RetryConfig{Deadline: 10 * time.Second, Rand: noJitter, Clock: clk})),
		cb.Middleware()))
	var failed int
	for range 200 {
		_, err := client.Chat.Completions.New(context.Background(), chatParams())
		var apiErr *openai.Error
		require.ErrorAs(t, err, &apiErr)
		failed++
	}
	assert.Equal(t, 200, failed)
	assert.EqualValues(t, breaker.DefaultFailureThreshold, sim.Requests(), "only the threshold reached the provider")
	assert.Equal(t, breaker.Open, cb.State())

	for window := 1; window <= 3; window++ {
		clk.Advance(30 * time.Second)
		for range 50 {
			_, _ = client.Chat.Completions.New(context.Background(), chatParams())
		}
		assert.EqualValues(t, breaker.DefaultFailureThreshold+window, sim.Requests(), "one probe per delay window")
	}

	require.NoError(t, sim.SetFaults(gatewaytest.Faults{}))
	clk.Advance(30 * time.Second)
	resp, err := client.Chat.Completions.New(context.Background(), chatParams())
	require.NoError(t, err)
	assert.Equal(t, sim.ReplyText(0), resp.Choices[0].Message.Content)
	assert.Equal(t, breaker.Closed, cb.State())
}

// faultsPerRequest sets the Sim's faults before each request from a
// sequence (the last applies to the rest).
func faultsPerRequest(sim *gatewaytest.Sim, seq ...gatewaytest.Faults) gateway.Middleware {
	var n atomic.Int64
	return func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			i := min(int(n.Add(1)), len(seq)) - 1
			if err := sim.SetFaults(seq[i]); err != nil {
				return nil, err
			}
			return next.RoundTrip(req)
		})
	}
}

// RELIABILITY 8: a stream that stalls before its first token moves on
// silently; the SDK reads one clean stream.
func TestSimStreamStallBeforeFirstTokenIsInvisible(t *testing.T) {
	clk := newClock()
	sim := must(gatewaytest.NewSim("a", gatewaytest.SimConfig{Clock: clk, Seed: 1}))
	rt := gateway.Chain(sim,
		must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: clk})),
		must(breaker.NewCircuitBreaker("a", breaker.Config{Clock: clk})).Middleware(),
		must(breaker.Timeouts(breaker.TimeoutConfig{FirstToken: 10 * time.Second, Clock: clk})),
		faultsPerRequest(sim, gatewaytest.Faults{StallRate: 1}, gatewaytest.Faults{}))
	client := sdk(rt)
	done := make(chan string, 1)
	go func() {
		stream := client.Chat.Completions.NewStreaming(context.Background(), chatParams())
		var sb strings.Builder
		for stream.Next() {
			for _, c := range stream.Current().Choices {
				sb.WriteString(c.Delta.Content)
			}
		}
		assert.NoError(t, stream.Err())
		done <- sb.String()
	}()
	eventually(t, func() bool { return sim.FaultCounts().Stalls == 1 }, "the stall")
	clk.Advance(10 * time.Second)
	assert.Equal(t, sim.ReplyText(0), <-done)
	assert.EqualValues(t, 2, sim.Requests())
}

// RELIABILITY 9 through the SDK: a stream cut after content started is not
// retried and ends with an error, not a clean end.
func TestSimStreamCutAfterContentReachesTheCaller(t *testing.T) {
	sim := must(gatewaytest.NewSim("a", gatewaytest.SimConfig{Seed: 1, Faults: gatewaytest.Faults{CutRate: 1, CutAfter: 3}}))
	client := sdk(gateway.Chain(sim, must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: newClock()}))))
	stream := client.Chat.Completions.NewStreaming(context.Background(), chatParams())
	var sb strings.Builder
	for stream.Next() {
		for _, c := range stream.Current().Choices {
			sb.WriteString(c.Delta.Content)
		}
	}
	require.Error(t, stream.Err())
	assert.NotEmpty(t, sb.String())
	assert.True(t, strings.HasPrefix(sim.ReplyText(0), sb.String()))
	assert.EqualValues(t, 1, sim.Requests(), "no retry after the first content byte")
}

// RELIABILITY 38: 1000 streams cancelled midway: goroutines back to
// baseline, every slot and permit released, no breaker failure.
func TestSimThousandStreamsCancelledMidway(t *testing.T) {
	sim := must(gatewaytest.NewSim("a", gatewaytest.SimConfig{Seed: 1, TokensPerSecond: 2000, CompletionTokens: 1000}))
	cb := must(breaker.NewCircuitBreaker("a", breaker.Config{}))
	bh := must(breaker.NewBulkhead(64, breaker.BulkheadConfig{MaxWait: time.Minute}))
	client := gateway.NewClient(gateway.Chain(sim,
		must(breaker.Retry(breaker.RetryConfig{})),
		cb.Middleware(), bh.Middleware(),
		must(breaker.Timeouts(breaker.TimeoutConfig{}))))
	baseline := runtime.NumGoroutine()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	var cut atomic.Int32
	for range 1000 {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://gateway.invalid/v1/chat/completions",
				strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
			resp, err := client.Do(req)
			if !assert.NoError(t, err) {
				return
			}
			defer resp.Body.Close()
			buf := make([]byte, 256)
			_, err = io.ReadAtLeast(resp.Body, buf, 200) // some content, then the caller leaves
			assert.NoError(t, err)
			cancel()
			if _, err := io.ReadAll(resp.Body); err != nil {
				cut.Add(1)
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, 1000, cut.Load(), "every stream ended by its caller")
	assert.EqualValues(t, 1000, sim.Requests(), "no cancelled stream was retried")
	assert.Equal(t, 0, bh.InFlight())
	assert.Equal(t, breaker.Closed, cb.State())
	eventually(t, func() bool { return runtime.NumGoroutine() <= baseline+2 }, "goroutines back to baseline")
}

// upstream is a Provider that forwards to a gatewaytest.Server over a real
// socket.
type upstream struct {
	base *url.URL
	rt   http.RoundTripper
}

func newUpstream(t *testing.T, srv *gatewaytest.Server) *upstream {
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	return &upstream{base: u, rt: srv.Client().Transport}
}

func (u *upstream) Name() string { return "loopback" }

func (u *upstream) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = u.base.Scheme, u.base.Host, ""
	return u.rt.RoundTrip(out)
}

// RELIABILITY 2 over a socket: resets and refused connections are failures;
// they are retried and open the breaker.
func TestSocketResetsAndRefusalsAreFailures(t *testing.T) {
	srv := gatewaytest.NewServer(must(gatewaytest.NewSim("a", gatewaytest.SimConfig{Seed: 1})))
	defer srv.Close()
	up := newUpstream(t, srv)

	srv.SetFaults(gatewaytest.SocketFaults{ResetRate: 1})
	cb := must(breaker.NewCircuitBreaker("a", breaker.Config{FailureThreshold: 3, Clock: newClock()}))
	rt := gateway.Chain(up, must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: newClock()})), cb.Middleware())
	_, err := send(t, rt)
	require.Error(t, err)
	assert.EqualValues(t, 3, srv.Count(), "a reset is retried")
	assert.Equal(t, breaker.Open, cb.State(), "and counted")

	srv.SetFaults(gatewaytest.SocketFaults{})
	status, err := send(t, gateway.Chain(up, must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: newClock()}))))
	require.NoError(t, err)
	assert.Equal(t, 200, status)

	srv.Close() // now nothing listens: connection refused
	cb2 := must(breaker.NewCircuitBreaker("a", breaker.Config{FailureThreshold: 2, Clock: newClock()}))
	_, err = send(t, gateway.Chain(up, must(breaker.Retry(breaker.RetryConfig{MaxAttempts: 2, Rand: noJitter, Clock: newClock()})), cb2.Middleware()))
	require.Error(t, err)
	assert.Equal(t, breaker.Retryable, breaker.Classify(nil, nil, err))
	assert.Equal(t, breaker.Open, cb2.State())
}

// RELIABILITY 2 and 7: a stalled socket is cut by the header timeout, a
// failure that is retried on a chat call.
func TestSocketStallIsCutAndRetried(t *testing.T) {
	srv := gatewaytest.NewServer(must(gatewaytest.NewSim("a", gatewaytest.SimConfig{Seed: 1})))
	defer srv.Close()
	up := newUpstream(t, srv)
	clk := newClock()
	var n atomic.Int32
	stallFirst := func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			if n.Add(1) == 1 {
				srv.SetFaults(gatewaytest.SocketFaults{StallRate: 1})
			} else {
				srv.SetFaults(gatewaytest.SocketFaults{})
			}
			return next.RoundTrip(req)
		})
	}
	cb := must(breaker.NewCircuitBreaker("a", breaker.Config{Clock: clk}))
	var failures atomic.Int32
	countFailures := func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			resp, err := next.RoundTrip(req)
			if breaker.Classify(req, resp, err).Failure() {
				failures.Add(1)
			}
			return resp, err
		})
	}
	rt := gateway.Chain(up, must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: clk})), cb.Middleware(), countFailures,
		must(breaker.Timeouts(breaker.TimeoutConfig{Header: 20 * time.Second, Clock: clk})), stallFirst)
	done := runAsync(t, rt, context.Background())
	eventually(t, func() bool { return srv.Count() == 1 }, "the stalled request reached the server")
	clk.Advance(20 * time.Second)
	resp := <-done
	assert.Equal(t, 200, resp.StatusCode)
	resp.Body.Close()
	assert.EqualValues(t, 2, srv.Count())
	assert.EqualValues(t, 1, failures.Load(), "the stall counted as one failure")
}
