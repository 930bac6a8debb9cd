package breaker_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
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
	rt := gateway.Chain(p, must(breaker.Hedge(breaker.HedgeConfig{Delay: 2 * time.Second, Clock: clk})))
	var call *gateway.Call
	done := make(chan *http.Response, 1)
	go func() {
		resp, c, err := do(context.Background(), rt, false)
		assert.NoError(t, err)
		call = c
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
	assert.Equal(t, 200, attempts[0].Status, "the hedge, which answered first")
	assert.Empty(t, attempts[0].Err)
	// How the loser, which answered after its cancellation, is recorded is
	// TestHedgeLateLoserIsRecordedLostAndNotServed's.
	target, _ := call.Served()
	assert.Equal(t, "a", target)
}

// hedgeOverTwoTargets returns Hedge over a router whose first pick, a, hangs
// until its attempt is cancelled and then answers with lateAnswer (or fails
// with its context's error when lateAnswer is nil), and whose second, b,
// answers at once: Hedge's first attempt goes to a, the hedge to b.
func hedgeOverTwoTargets(t *testing.T, clk *gatewaytest.Clock, lateAnswer *trackedBody) http.RoundTripper {
	t.Helper()
	a := &fakeProvider{name: "a", fn: func(req *http.Request, _ int64) (*http.Response, error) {
		<-req.Context().Done()
		if lateAnswer == nil {
			return nil, req.Context().Err()
		}
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: lateAnswer}, nil
	}}
	b := answering("b", 200)
	r, err := router.New("r", []router.Target{{Provider: a, Weight: 1}, {Provider: b, Weight: 1}}, router.Config{Clock: clk})
	require.NoError(t, err)
	return gateway.Chain(r, must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, Clock: clk})))
}

// The loser of a hedge is cancelled with ErrHedgeLost as its context's
// cause, and its attempt is recorded with that code; Served names the
// winner, whether or not the caller reads the body.
func TestHedgeLoserIsRecordedLost(t *testing.T) {
	for _, read := range []bool{true, false} {
		clk := newClock()
		rt := hedgeOverTwoTargets(t, clk, nil)
		done := make(chan *gateway.Call, 1)
		go func() {
			resp, call, err := do(context.Background(), rt, false)
			if assert.NoError(t, err) {
				if read {
					_, _ = io.ReadAll(resp.Body)
				}
				resp.Body.Close()
			}
			done <- call
		}()
		clk.BlockUntil(1)
		clk.Advance(time.Second)
		call := <-done
		attempts := call.Attempts()
		require.Len(t, attempts, 2)
		assert.Equal(t, "b", attempts[0].Target)
		assert.Equal(t, 200, attempts[0].Status)
		assert.Empty(t, attempts[0].Err)
		assert.Equal(t, "a", attempts[1].Target)
		assert.Zero(t, attempts[1].Status)
		assert.Equal(t, "hedge_lost", attempts[1].Err)
		target, _ := call.Served()
		assert.Equal(t, "b", target, "read %v", read)
	}
}

// A loser that answers after its cancellation (a provider that ignores its
// context, or headers racing the cancel) answers too late: its response is
// closed unread and never reaches the caller, so its attempt must be recorded
// lost (Hedge's documentation: "its attempt is recorded with that code") and
// Served must not name it, even when the caller reads nothing. Regression:
// the boundary recorded such an answer as a success, so Served named the
// loser.
func TestHedgeLateLoserIsRecordedLostAndNotServed(t *testing.T) {
	clk := newClock()
	late := &trackedBody{Reader: strings.NewReader("late")}
	rt := hedgeOverTwoTargets(t, clk, late)
	done := make(chan *gateway.Call, 1)
	go func() {
		resp, call, err := do(context.Background(), rt, false)
		if assert.NoError(t, err) {
			resp.Body.Close() // the caller only looks at the status
		}
		done <- call
	}()
	clk.BlockUntil(1)
	clk.Advance(time.Second)
	call := <-done
	assert.EqualValues(t, 1, late.closes.Load(), "the late answer is closed")
	attempts := call.Attempts()
	require.Len(t, attempts, 2)
	assert.Equal(t, "b", attempts[0].Target)
	assert.Empty(t, attempts[0].Err)
	assert.Equal(t, "a", attempts[1].Target)
	assert.Equal(t, "hedge_lost", attempts[1].Err)
	target, _ := call.Served()
	assert.Equal(t, "b", target, "the loser's answer never reached the caller")
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
	rt := gateway.Chain(p, must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, Clock: clk})))
	var call *gateway.Call
	done := make(chan *http.Response, 1)
	go func() {
		resp, c, err := do(context.Background(), rt, true)
		assert.NoError(t, err)
		call = c
		done <- resp
	}()
	clk.BlockUntil(1)
	eventually(t, func() bool { return p.calls.Load() == 1 }, "first attempt, held at the boundary")
	clk.Advance(time.Second)
	resp := <-done
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, roleEvent+contentEvent("fast")+"data: [DONE]\n\n", string(b))
	eventually(t, stalled.Load, "the stalled attempt was cancelled")
	assert.EqualValues(t, 2, p.calls.Load())
	attempts := call.Attempts()
	require.Len(t, attempts, 2)
	assert.Equal(t, 200, attempts[0].Status, "the hedge, which sent content first")
	assert.Empty(t, attempts[0].Err)
	assert.Zero(t, attempts[1].Status, "the stalled stream was never passed on")
	assert.Equal(t, "hedge_lost", attempts[1].Err)
}

func TestHedgeFastFirstAttemptSendsNoHedge(t *testing.T) {
	p := answering("a", 200)
	rt := gateway.Chain(p, must(breaker.Hedge(breaker.HedgeConfig{Clock: newClock()})))
	status, err := send(t, rt)
	require.NoError(t, err)
	assert.Equal(t, 200, status)
	assert.EqualValues(t, 1, p.calls.Load())
}

func TestHedgeCountsAgainstTheBudget(t *testing.T) {
	clk := newClock()
	budget := must(breaker.NewBudget(breaker.BudgetConfig{Clock: clk}))
	for i := 0; i < 1000 && budget.TryRetry(); i++ {
	}
	require.False(t, budget.TryRetry(), "the budget is empty")
	p, _, _ := slowFirst(false)
	rt := gateway.Chain(p, must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, Budget: budget, Clock: clk})))
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
	rt := gateway.Chain(p, must(breaker.Hedge(breaker.HedgeConfig{Clock: newClock()})))
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
	rt := gateway.Chain(slow, must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, Clock: clk})))
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
	rt := gateway.Chain(p, must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Hour, Percentile: 0.9, MinDelay: 100 * time.Millisecond, Clock: clk})))
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

// The winner's context lives until its body is closed, so a stream that
// won without any hedge is read to its end.
func TestHedgeWinnerStreamIsReadToItsEnd(t *testing.T) {
	sim := must(gatewaytest.NewSim("a", gatewaytest.SimConfig{Seed: 1, TokensPerSecond: 5000, CompletionTokens: 20}))
	rt := gateway.Chain(sim, must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Hour})))
	resp, call, err := do(context.Background(), rt, true)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.True(t, strings.HasSuffix(string(b), "data: [DONE]\n\n"))
	assert.EqualValues(t, 1, sim.Requests())
	assert.Equal(t, []int{200}, attemptStatuses(call))
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
			// Hedge classifies each result as it takes it in: once it has
			// classified the 503, the 503 is held.
			took503 := make(chan struct{})
			classify := func(req *http.Request, resp *http.Response, err error) breaker.Class {
				if resp != nil && resp.StatusCode == 503 {
					close(took503)
				}
				return breaker.Classify(req, resp, err)
			}
			rt := gateway.Chain(p, must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, Classify: classify, Clock: clk})))
			type result struct {
				resp *http.Response
				call *gateway.Call
				err  error
			}
			done := make(chan result, 1)
			go func() {
				resp, call, err := do(context.Background(), rt, false)
				done <- result{resp, call, err}
			}()
			clk.BlockUntil(1)
			clk.Advance(time.Second)
			eventually(t, func() bool { return p.calls.Load() == 2 }, "hedge sent")
			close(release)
			select {
			case <-took503:
			case <-time.After(5 * time.Second):
				t.Fatal("Hedge never took the 503 in")
			}
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
			assert.Len(t, r.call.Attempts(), 2, "the 503 and the winner")
		})
	}
}

// Regression: when every hedged attempt failed, their contexts were never
// cancelled, each staying registered with the caller's until it ended (a
// leak per call under a long-lived client context). Now every attempt's
// context ends when RoundTrip returns, or, for the failure returned as a
// response, when its body is closed.
func TestHedgeAllFailedReleasesEveryAttemptContext(t *testing.T) {
	for _, asResponse := range []bool{false, true} {
		clk := newClock()
		var mu sync.Mutex
		ctxs := map[int64]context.Context{}
		first, release := make(chan struct{}), make(chan struct{})
		p := &fakeProvider{name: "a", fn: func(req *http.Request, n int64) (*http.Response, error) {
			mu.Lock()
			ctxs[n] = req.Context()
			mu.Unlock()
			if n == 1 {
				close(first)
				<-release // the slow first attempt fails last
				if asResponse {
					return respond(req, 503), nil
				}
				return nil, errors.New("reset")
			}
			defer close(release)
			return nil, errors.New("reset")
		}}
		hedge := must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, Clock: clk}))
		go func() {
			<-first
			clk.BlockUntil(1)
			clk.Advance(time.Second)
		}()
		caller := context.Background() // lives on: only Hedge can release the attempts
		resp, _, err := do(caller, gateway.Chain(p, hedge), false)
		mu.Lock()
		require.Len(t, ctxs, 2, "MaxHedges 1: no second hedge")
		assert.Error(t, ctxs[2].Err(), "the earlier failure's context is released (response: %v)", asResponse)
		if asResponse {
			require.NoError(t, err)
			require.Equal(t, 503, resp.StatusCode)
			assert.NoError(t, ctxs[1].Err(), "the failure returned is readable until its body is closed")
			resp.Body.Close()
		} else {
			require.Error(t, err)
		}
		assert.Error(t, ctxs[1].Err(), "the last failure's context is released (response: %v)", asResponse)
		mu.Unlock()
	}
}

// Issue 8, mixed faults: the first attempt hangs and its hedge fails at
// once: the hedge is replaced, so the call is served instead of waiting on
// the hung attempt until the caller gives up.
func TestHedgeFailedHedgeIsReplacedWhileTheFirstHangs(t *testing.T) {
	clk := newClock()
	p := &fakeProvider{name: "a"}
	p.fn = func(req *http.Request, n int64) (*http.Response, error) {
		switch n {
		case 1:
			<-req.Context().Done() // hangs until cancelled
			return nil, req.Context().Err()
		case 2:
			return respond(req, 500), nil
		}
		return respond(req, 200), nil
	}
	rt := gateway.Chain(p, must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, MaxHedges: 2, Clock: clk})))
	done := runAsync(t, rt, context.Background())
	clk.BlockUntil(1)
	clk.Advance(time.Second) // one hedge; it fails, and the second goes out at once
	resp := <-done
	assert.Equal(t, 200, resp.StatusCode)
	resp.Body.Close()
	assert.EqualValues(t, 3, p.calls.Load(), "the first, the failed hedge, the next")
}

// Review finding: a hedge that got a 429 with Retry-After was replaced at
// once, on the same upstream, inside the window it asked for. Now the 429
// ends the call at once, the hung first attempt given up, so the breaker
// and the router outside hear of it.
func TestHedgeRateLimitEndsTheCallAtOnce(t *testing.T) {
	clk := newClock()
	p := &fakeProvider{name: "a"}
	p.fn = func(req *http.Request, n int64) (*http.Response, error) {
		if n == 1 {
			<-req.Context().Done()
			return nil, req.Context().Err()
		}
		return respond(req, 429, "Retry-After", "2"), nil
	}
	rt := gateway.Chain(p, must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, MaxHedges: 2, Clock: clk})))
	done := runAsync(t, rt, context.Background())
	clk.BlockUntil(1)
	clk.Advance(time.Second)
	resp := <-done
	assert.Equal(t, 429, resp.StatusCode)
	assert.Equal(t, "2", resp.Header.Get("Retry-After"))
	resp.Body.Close()
	assert.EqualValues(t, 2, p.calls.Load(), "no hedge inside the Retry-After")
}

// Review finding: a Hedge inside a router target's chain sits below the
// target's breaker, so its hedges went out while the target was cooling
// down after another call's 429. Gate (the breaker's Ready) holds them.
func TestHedgeGateHoldsHedges(t *testing.T) {
	clk := newClock()
	var ready atomic.Bool
	p, _, _ := slowFirst(false)
	rt := gateway.Chain(p, must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, Gate: ready.Load, Clock: clk})))
	ctx, cancel := context.WithCancel(context.Background())
	done := runAsync(t, rt, ctx)
	clk.BlockUntil(1)
	clk.Advance(time.Second)
	time.Sleep(20 * time.Millisecond) // a hedge would be sent by now
	assert.EqualValues(t, 1, p.calls.Load(), "the gate is shut: no hedge")
	ready.Store(true) // the cooldown ends: the hedge goes out at the next look
	clk.BlockUntil(1)
	clk.Advance(time.Second)
	resp := <-done
	assert.Equal(t, 200, resp.StatusCode)
	resp.Body.Close()
	assert.EqualValues(t, 2, p.calls.Load())
	cancel()
}

// Issue 8: an attempt that hangs with no headers while no hedge can go out
// (the gate shut: its target cooling down) is cut at CutAfter times the
// hedge delay, with an upstream timeout that Retry and the router treat as
// this target's failure, instead of waiting for the caller to give up.
func TestHedgeCutsAHungAttemptAtCutAfter(t *testing.T) {
	clk := newClock()
	p, _, cancelled := slowFirst(false)
	shut := func() bool { return false }
	rt := gateway.Chain(p, must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, CutAfter: 3, Gate: shut, Clock: clk})))
	done := runAsync(t, rt, context.Background())
	clk.BlockUntil(1) // the delay's timer alone: no cut timer until the delay passes
	clk.Advance(time.Second)
	for range 2 {
		clk.BlockUntil(2) // the hedge timer (looking again each second) and the cut
		clk.Advance(time.Second)
	}
	resp := <-done
	assert.Equal(t, -1, resp.StatusCode, "an error")
	assert.Contains(t, resp.Status, "3 times the hedge delay")
	assert.True(t, cancelled.Load(), "the hung attempt was cancelled")
	assert.EqualValues(t, 1, p.calls.Load())
	assert.Error(t, breaker.HedgeConfig{CutAfter: 0.5}.Validate())
}

// A cut timer that fires a hedge delay or more after its time says this
// process was stalled (a collection, a starved CPU), not that the attempt
// hung: the answers the stall held up may be waiting unread. Hedge looks
// once more, a delay later, instead of cutting every attempt in flight and
// counting each against its target (which opened every breaker of the main
// job after one long stall). Only once: a hung attempt is still cut.
func TestHedgeLateCutTimerLooksOnceMoreBeforeCutting(t *testing.T) {
	release := make(chan struct{})
	p := &fakeProvider{name: "a", fn: func(req *http.Request, n int64) (*http.Response, error) {
		select {
		case <-release:
			return respond(req, 200), nil
		case <-req.Context().Done():
			return nil, context.Cause(req.Context())
		}
	}}
	shut := func() bool { return false }

	t.Run("stalled answer is served", func(t *testing.T) {
		clk := newClock()
		release = make(chan struct{})
		rt := gateway.Chain(p, must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, CutAfter: 3, Gate: shut, Clock: clk})))
		done := runAsync(t, rt, context.Background())
		clk.BlockUntil(1)
		clk.Advance(time.Second) // the delay passes: no hedge (gate shut)
		clk.BlockUntil(2)        // the hedge's next look and the cut, 2 s from now
		clk.Advance(5 * time.Second)
		clk.BlockUntil(2) // the cut fired 3 s late: one more look, a delay later
		close(release)
		resp := <-done
		assert.Equal(t, 200, resp.StatusCode, resp.Status)
		resp.Body.Close()
	})
	t.Run("hung attempt is still cut", func(t *testing.T) {
		clk := newClock()
		release = make(chan struct{})
		rt := gateway.Chain(p, must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, CutAfter: 3, Gate: shut, Clock: clk})))
		done := runAsync(t, rt, context.Background())
		clk.BlockUntil(1)
		clk.Advance(time.Second)
		clk.BlockUntil(2)
		clk.Advance(5 * time.Second)
		clk.BlockUntil(2)
		clk.Advance(5 * time.Second) // late again: no second grace
		resp := <-done
		assert.Equal(t, -1, resp.StatusCode, "an error")
		assert.Contains(t, resp.Status, "3 times the hedge delay")
	})
}

// The fast path: an attempt answered within the delay runs on the caller's
// goroutine under one timer (the middleware's deadlines', shared by its
// calls), with no cut timer (CutAfter is set) and no goroutine of Hedge's;
// its deadline is removed when it answers (on a fake clock the shared timer
// then stops, as none is left).
func TestHedgeFirstAttemptRunsOnTheCallersGoroutineUnderOneTimer(t *testing.T) {
	clk := newClock()
	var timers int
	var onCaller bool
	p := &fakeProvider{name: "a", fn: func(req *http.Request, _ int64) (*http.Response, error) {
		timers = clk.Timers()
		buf := make([]byte, 64<<10)
		onCaller = strings.Contains(string(buf[:runtime.Stack(buf, false)]), "TestHedgeFirstAttemptRunsOnTheCallersGoroutineUnderOneTimer")
		return respond(req, 200), nil
	}}
	rt := gateway.Chain(p, must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, CutAfter: 3, Clock: clk})))
	resp, call, err := do(context.Background(), rt, false)
	require.NoError(t, err)
	assert.Equal(t, 1, timers, "the delay's timer alone while the first attempt runs")
	assert.True(t, onCaller, "the first attempt runs on the caller's goroutine")
	assert.Zero(t, clk.Timers(), "the timer is stopped once the attempt answered")
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, []int{200}, attemptStatuses(call))
}

// The first attempt, hedged, still wins when it answers first: the call
// taken over when the delay passed ends with its answer, and the hedge,
// still out, is cancelled and recorded lost.
func TestHedgeSlowFirstAttemptWinsOverItsHedge(t *testing.T) {
	clk := newClock()
	release, hedgeSent, hedgeEnded := make(chan struct{}), make(chan struct{}), make(chan struct{})
	p := &fakeProvider{name: "a", fn: func(req *http.Request, n int64) (*http.Response, error) {
		if n == 1 {
			<-release
			return respond(req, 200), nil
		}
		close(hedgeSent)
		<-req.Context().Done()
		defer close(hedgeEnded)
		return nil, req.Context().Err()
	}}
	rt := gateway.Chain(p, must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, Clock: clk})))
	type result struct {
		resp *http.Response
		call *gateway.Call
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, call, err := do(context.Background(), rt, false)
		done <- result{resp, call, err}
	}()
	clk.BlockUntil(1)
	clk.Advance(time.Second)
	<-hedgeSent
	close(release)
	r := <-done
	require.NoError(t, r.err)
	assert.Equal(t, 200, r.resp.StatusCode)
	<-hedgeEnded // cancelled as soon as the first answered
	require.NoError(t, r.resp.Body.Close())
	attempts := r.call.Attempts()
	require.Len(t, attempts, 2)
	assert.Equal(t, 200, attempts[0].Status, "the first attempt, which answered first")
	assert.Empty(t, attempts[0].Err)
	assert.Equal(t, "hedge_lost", attempts[1].Err)
	assert.EqualValues(t, 2, p.calls.Load())
}

// A Hedge given the Latency another learned with hedges at the learned
// delay from its first call (a reloaded target keeps what it learned),
// where one of its own would wait its hour-long Delay.
func TestHedgeLatencyIsKeptByTheHedgeThatReplacesAnother(t *testing.T) {
	clk := newClock()
	var slow atomic.Bool
	p := &fakeProvider{name: "a", fn: func(req *http.Request, n int64) (*http.Response, error) {
		if slow.Load() && n%2 == 1 {
			<-req.Context().Done()
			return nil, req.Context().Err()
		}
		return respond(req, 200), nil
	}}
	lat := &breaker.HedgeLatency{}
	cfg := breaker.HedgeConfig{Delay: time.Hour, Percentile: 0.9, MinDelay: 100 * time.Millisecond, Clock: clk, Latency: lat}
	learner := gateway.Chain(p, must(breaker.Hedge(cfg)))
	for range 40 { // latencies of 0 on the frozen clock: the learned delay is MinDelay
		_, err := send(t, learner)
		require.NoError(t, err)
	}

	replacement := gateway.Chain(p, must(breaker.Hedge(cfg)))
	p.calls.Store(0)
	slow.Store(true)
	done := runAsync(t, replacement, context.Background())
	clk.BlockUntil(1)
	clk.Advance(100 * time.Millisecond)
	assert.Equal(t, 200, (<-done).StatusCode)
	assert.EqualValues(t, 2, p.calls.Load(), "hedged at the learned delay")
}

// When every attempt has failed, an upstream's answer (a 503, with the
// status and any Retry-After that Retry and the router read) is returned
// rather than a transport error, whichever came last. Before, the failure
// that arrived last was returned, so which one a caller got depended on
// goroutine timing (TestHedgeAllFailedReleasesEveryAttemptContext failed
// about 1 run in 400).
func TestHedgeAllFailedReturnsTheAnswerOverATransportError(t *testing.T) {
	clk := newClock()
	first, release, returned := make(chan struct{}), make(chan struct{}), make(chan struct{})
	p := &fakeProvider{name: "a", fn: func(req *http.Request, n int64) (*http.Response, error) {
		if n == 1 {
			defer close(returned)
			close(first)
			<-release
			return respond(req, 503), nil
		}
		close(release)
		<-returned // the hedge's reset comes after the first attempt's 503
		return nil, errors.New("reset")
	}}
	hedge := must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, Clock: clk}))
	go func() {
		<-first
		clk.BlockUntil(1)
		clk.Advance(time.Second)
	}()
	resp, _, err := do(context.Background(), gateway.Chain(p, hedge), false)
	require.NoError(t, err, "the transport error that came last was returned")
	require.Equal(t, 503, resp.StatusCode)
	resp.Body.Close()
}

// countingBody counts its Closes.
type countingBody struct {
	io.Reader
	closed *atomic.Int32
}

func (b countingBody) Close() error { b.closed.Add(1); return nil }

// A hedge's failure that asks for a wait ends the call with that failure,
// and the failure held until then is let go: its body is closed. Before,
// an answer held over a later transport error was kept when that error
// asked to wait (a cooling-down target), and its body was never closed.
func TestHedgeClosesTheHeldAnswerWhenAFailureAsksToWait(t *testing.T) {
	clk := newClock()
	var closed atomic.Int32
	first := make(chan struct{})
	p := &fakeProvider{name: "a", fn: func(req *http.Request, n int64) (*http.Response, error) {
		switch n {
		case 1:
			close(first)
			<-req.Context().Done() // hangs until given up
			return nil, req.Context().Err()
		case 2:
			resp := respond(req, 502)
			resp.Body = countingBody{Reader: resp.Body, closed: &closed}
			return resp, nil
		}
		return nil, breaker.ErrCoolingDown.WithRetryAfter(time.Second)
	}}
	hedge := must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, MaxHedges: 2, Clock: clk}))
	go func() {
		<-first
		clk.BlockUntil(1)
		clk.Advance(time.Second)
	}()
	_, _, err := do(context.Background(), gateway.Chain(p, hedge), false)
	require.ErrorIs(t, err, breaker.ErrCoolingDown)
	assert.Equal(t, int32(1), closed.Load(), "the held 502's body is closed once")
}
