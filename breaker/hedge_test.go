package breaker_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
)

// slowFirst returns a provider whose first request hangs until cancelled
// (then answers with a response, which the hedge must close) and whose
// later requests answer at once.
func slowFirst(stream bool) (*fakeProvider, *trackedBody, *atomic.Bool) {
	late := &trackedBody{Reader: strings.NewReader("late")}
	var cancelled atomic.Bool
	p := &fakeProvider{name: "a", fn: func(req *http.Request, n int64) (*http.Response, error) {
		if n == 1 {
			<-req.Context().Done()
			cancelled.Store(true)
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: late}, nil
		}
		if stream {
			return streamResponse(req, strings.NewReader(roleEvent+contentEvent("fast")+"data: [DONE]\n\n")), nil
		}
		return respond(req, 200), nil
	}}
	return p, late, &cancelled
}

func TestHedgeSlowFirstAttempt(t *testing.T) {
	clk := newClock()
	p, late, cancelled := slowFirst(false)
	rt := breaker.Hedge(breaker.HedgeConfig{Delay: 2 * time.Second, Clock: clk})(p)
	req, call := chatRequest(t, context.Background(), false)
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := rt.RoundTrip(req)
		assert.NoError(t, err)
		done <- resp
	}()
	clk.BlockUntil(1)
	eventually(t, func() bool { return p.calls.Load() == 1 }, "first attempt")
	clk.Advance(2*time.Second - time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	assert.EqualValues(t, 1, p.calls.Load(), "no hedge before the delay")
	clk.Advance(time.Millisecond)
	resp := <-done
	assert.Equal(t, 200, resp.StatusCode)
	eventually(t, cancelled.Load, "the loser is cancelled as soon as the winner is known")
	_, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.EqualValues(t, 1, late.closes.Load(), "the loser's late response is closed")
	assert.EqualValues(t, 2, p.calls.Load())
	attempts := call.Attempts()
	require.Len(t, attempts, 2)
	assert.Equal(t, 200, attempts[0].Status)
	assert.Empty(t, attempts[0].Err)
	assert.Equal(t, "hedge_lost", attempts[1].Err)
}

// Streams are hedged by time to first token: the first to send content
// wins.
func TestHedgeStreamByFirstToken(t *testing.T) {
	clk := newClock()
	var stalled atomic.Bool
	p := &fakeProvider{name: "a", fn: func(req *http.Request, n int64) (*http.Response, error) {
		if n == 1 { // headers at once, then no content
			pr, pw := io.Pipe()
			go func() {
				_, _ = pw.Write([]byte(roleEvent))
				<-req.Context().Done()
				stalled.Store(true)
				pw.CloseWithError(req.Context().Err())
			}()
			return streamResponse(req, pr), nil
		}
		return streamResponse(req, strings.NewReader(roleEvent+contentEvent("fast")+"data: [DONE]\n\n")), nil
	}}
	rt := breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, Clock: clk})(p)
	req, _ := chatRequest(t, context.Background(), true)
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := rt.RoundTrip(req)
		assert.NoError(t, err)
		done <- resp
	}()
	clk.BlockUntil(1)
	clk.Advance(time.Second)
	resp := <-done
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, roleEvent+contentEvent("fast")+"data: [DONE]\n\n", string(b))
	assert.True(t, stalled.Load())
}

func TestHedgeFastFirstAttemptSendsNoHedge(t *testing.T) {
	p := answering("a", 200)
	rt := breaker.Hedge(breaker.HedgeConfig{Clock: newClock()})(p)
	status, err := send(t, rt)
	require.NoError(t, err)
	assert.Equal(t, 200, status)
	assert.EqualValues(t, 1, p.calls.Load())
}

func TestHedgeCountsAgainstTheBudget(t *testing.T) {
	clk := newClock()
	budget := breaker.NewBudget(breaker.BudgetConfig{Clock: clk})
	for budget.TryRetry() {
	}
	p, _, _ := slowFirst(false)
	rt := breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, Budget: budget, Clock: clk})(p)
	ctx, cancel := context.WithCancel(context.Background())
	done := runAsync(t, rt, ctx)
	clk.BlockUntil(1)
	clk.Advance(time.Second)
	time.Sleep(10 * time.Millisecond)
	assert.EqualValues(t, 1, p.calls.Load(), "an empty budget sends no hedge")
	cancel()
	resp := <-done
	assert.Equal(t, -1, resp.StatusCode)
}

func TestHedgeFatalAnswerEndsTheCall(t *testing.T) {
	p := answering("a", 400)
	rt := breaker.Hedge(breaker.HedgeConfig{Clock: newClock()})(p)
	status, err := send(t, rt)
	require.NoError(t, err)
	assert.Equal(t, 400, status)
}

func TestHedgeFailureWaitsForTheOtherAttempt(t *testing.T) {
	clk := newClock()
	release, hedgeGo := make(chan struct{}), make(chan struct{})
	// The first attempt fails after the hedge went out; the hedge's answer wins.
	slow := &fakeProvider{name: "a"}
	slow.fn = func(req *http.Request, n int64) (*http.Response, error) {
		if n == 1 {
			<-release
			return respond(req, 500), nil
		}
		<-hedgeGo
		return respond(req, 200), nil
	}
	rt := breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, Clock: clk})(slow)
	done := runAsync(t, rt, context.Background())
	clk.BlockUntil(1)
	clk.Advance(time.Second)
	eventually(t, func() bool { return slow.calls.Load() == 2 }, "hedge sent")
	close(release)
	time.Sleep(10 * time.Millisecond)
	close(hedgeGo)
	assert.Equal(t, 200, (<-done).StatusCode)
}

func TestHedgeDelayFromPercentile(t *testing.T) {
	clk := newClock()
	var slow atomic.Bool
	p := &fakeProvider{name: "a", fn: func(req *http.Request, n int64) (*http.Response, error) {
		if slow.Load() && n%2 == 1 {
			<-req.Context().Done()
			return nil, req.Context().Err()
		}
		return respond(req, 200), nil
	}}
	rt := breaker.Hedge(breaker.HedgeConfig{Delay: time.Hour, Percentile: 0.9, MinDelay: 100 * time.Millisecond, Clock: clk})(p)
	for range 40 { // latencies of 0 on the frozen clock: the delay falls to MinDelay
		_, err := send(t, rt)
		require.NoError(t, err)
	}
	p.calls.Store(0)
	slow.Store(true)
	done := runAsync(t, rt, context.Background())
	clk.BlockUntil(1)
	clk.Advance(100 * time.Millisecond)
	assert.Equal(t, 200, (<-done).StatusCode)
	assert.EqualValues(t, 2, p.calls.Load())
}

func TestHedgeRejectsBadConfig(t *testing.T) {
	for _, cfg := range []breaker.HedgeConfig{{Delay: -1}, {MaxHedges: -1}, {Percentile: 1}, {Percentile: -0.1}, {MinDelay: -1}} {
		assert.Panics(t, func() { breaker.Hedge(cfg) }, "%+v", cfg)
	}
}

// The winner's context lives until its body is closed, so a stream that
// won without any hedge is read to its end.
func TestHedgeWinnerStreamIsReadToItsEnd(t *testing.T) {
	sim := gatewaytest.NewSim("a", gatewaytest.SimConfig{Seed: 1, TokensPerSecond: 5000, CompletionTokens: 20})
	rt := breaker.Hedge(breaker.HedgeConfig{Delay: time.Hour})(sim)
	req, _ := chatRequest(t, context.Background(), true)
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.True(t, strings.HasSuffix(string(b), "data: [DONE]\n\n"))
	assert.EqualValues(t, 1, sim.Requests())
}

// Regression: a retryable answer held while a hedge was in flight was never
// closed when the hedge then won (or ended the call with a fatal answer or
// error), so behind Timeouts its watchdog ran on and behind a Bulkhead its
// slot stayed held.
func TestHedgeClosesHeldFailureWhenAnotherAttemptWins(t *testing.T) {
	cases := []struct {
		name   string
		winner func(req *http.Request) (*http.Response, error)
		status int // 0 when the call ends with an error
	}{
		{"success", func(req *http.Request) (*http.Response, error) { return respond(req, 200), nil }, 200},
		{"fatal status", func(req *http.Request) (*http.Response, error) { return respond(req, 400), nil }, 400},
		{"fatal error", func(*http.Request) (*http.Response, error) { return nil, gateway.ErrModelNotFound }, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			release, hedgeGo := make(chan struct{}), make(chan struct{})
			var held *trackedBody
			p := &fakeProvider{name: "a"}
			p.fn = func(req *http.Request, n int64) (*http.Response, error) {
				if n == 1 {
					<-release
					resp := respond(req, 503)
					held = resp.Body.(*trackedBody)
					return resp, nil
				}
				<-hedgeGo
				return tc.winner(req)
			}
			rt := breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, Clock: clk})(p)
			req, call := chatRequest(t, context.Background(), false)
			type result struct {
				resp *http.Response
				err  error
			}
			done := make(chan result, 1)
			go func() {
				resp, err := rt.RoundTrip(req)
				done <- result{resp, err}
			}()
			clk.BlockUntil(1)
			clk.Advance(time.Second)
			eventually(t, func() bool { return p.calls.Load() == 2 }, "hedge sent")
			close(release)
			// Hedge records the 503 when it has taken it in: it is now held.
			eventually(t, func() bool { return call.AttemptCount() == 1 }, "503 received")
			close(hedgeGo)
			r := <-done
			if tc.status == 0 {
				require.Error(t, r.err)
			} else {
				require.NoError(t, r.err)
				assert.Equal(t, tc.status, r.resp.StatusCode)
				require.NoError(t, r.resp.Body.Close())
			}
			assert.EqualValues(t, 1, held.closes.Load(), "the held 503's body is closed exactly once")
		})
	}
}
