package breaker_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
)

// Hedge over Timeouts (the main job's order) gives each attempt one context,
// which both use: a Timeouts limit still cancels only the attempt it bounds,
// and the hedge that wins still cancels only the loser, with its cause.
func TestHedgeOverTimeoutsCancelsOnlyTheAttemptALimitBounds(t *testing.T) {
	clk := newClock()
	var mu sync.Mutex
	ctxs := map[int64]context.Context{}
	p := &fakeProvider{name: "a", fn: func(req *http.Request, n int64) (*http.Response, error) {
		mu.Lock()
		ctxs[n] = req.Context()
		mu.Unlock()
		<-req.Context().Done() // both attempts hang for their headers
		return nil, context.Cause(req.Context())
	}}
	rt := gateway.Chain(p,
		must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, Clock: clk})),
		must(breaker.Timeouts(breaker.TimeoutConfig{Header: 3 * time.Second, Clock: clk})))
	ctxOf := func(n int64) context.Context {
		mu.Lock()
		defer mu.Unlock()
		return ctxs[n]
	}
	out := make(chan error, 1)
	go func() {
		_, _, err := do(context.Background(), rt, false)
		out <- err
	}()
	eventually(t, func() bool { return p.calls.Load() == 1 }, "first attempt")
	clk.BlockUntil(2) // the hedge's delay and the first attempt's header limit
	clk.Advance(time.Second)
	eventually(t, func() bool { return p.calls.Load() == 2 }, "the hedge, a delay later")
	require.NoError(t, ctxOf(2).Err())

	clk.Advance(2 * time.Second) // the first attempt's header limit: 3 s after it began
	eventually(t, func() bool { return ctxOf(1).Err() != nil }, "the first attempt cut by its limit")
	assert.ErrorIs(t, context.Cause(ctxOf(1)), gateway.ErrUpstreamTimeout)
	assert.NoError(t, ctxOf(2).Err(), "the hedge began a second later: its limit has not passed")
	select {
	case err := <-out:
		t.Fatalf("the call ended while its hedge was still out: %v", err)
	case <-time.After(10 * time.Millisecond):
	}

	clk.Advance(time.Second) // the hedge's own limit
	err := <-out
	assert.ErrorIs(t, err, gateway.ErrUpstreamTimeout)
	assert.ErrorIs(t, context.Cause(ctxOf(2)), gateway.ErrUpstreamTimeout)
}

// The loser's context ends with ErrHedgeLost, and its limit, whose deadline
// is removed with it, never fires later; the winner's body is read after the
// loser's limit would have passed.
func TestHedgeOverTimeoutsLoserEndsLostAndItsLimitIsRemoved(t *testing.T) {
	clk := newClock()
	var first context.Context
	p := &fakeProvider{name: "a", fn: func(req *http.Request, n int64) (*http.Response, error) {
		if n == 1 {
			first = req.Context()
			<-req.Context().Done()
			return nil, context.Cause(req.Context())
		}
		return respond(req, 200), nil
	}}
	rt := gateway.Chain(p,
		must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, Clock: clk})),
		must(breaker.Timeouts(breaker.TimeoutConfig{Header: 3 * time.Second, Idle: time.Hour, Clock: clk})))
	go func() {
		eventually(t, func() bool { return p.calls.Load() == 1 }, "first attempt")
		clk.BlockUntil(2)
		clk.Advance(time.Second)
	}()
	resp, call, err := do(context.Background(), rt, false)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.ErrorIs(t, context.Cause(first), breaker.ErrHedgeLost)
	clk.Advance(time.Minute) // past the loser's header limit
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Contains(t, string(body), `"hi"`)
	assert.ErrorIs(t, context.Cause(first), breaker.ErrHedgeLost, "the loser's limit did not fire after it lost")
	require.NoError(t, resp.Body.Close())
	require.Len(t, call.Attempts(), 2)
}

// What the shared context saves, per call: a context, its registration with
// the parent's, and a request copy. A middleware between Hedge and Timeouts
// (which may send more than once) keeps them apart, each attempt with a
// context of Timeouts' own.
func TestHedgeOverTimeoutsMakesOneContextPerAttempt(t *testing.T) {
	p := answering("a", 200)
	hedge := must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Hour}))
	timeouts := must(breaker.Timeouts(breaker.TimeoutConfig{}))
	between := func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(next.RoundTrip)
	}
	allocs := func(rt http.RoundTripper) float64 {
		client := gateway.NewClient(rt)
		return testing.AllocsPerRun(200, func() {
			resp, err := client.Post(chatURL, "application/json", strings.NewReader(chatBody(false)))
			if err != nil {
				panic(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	shared := allocs(gateway.Chain(p, hedge, timeouts))
	apart := allocs(gateway.Chain(p, hedge, between, timeouts))
	t.Logf("allocs per call: %.0f shared, %.0f apart", shared, apart)
	assert.LessOrEqual(t, shared, apart-3, "a context, its registration and a request copy fewer")
}

// A middleware between them that sends twice still gets a live context for
// its second send after Timeouts cut the first.
func TestTimeoutsUnderARetryInsideHedgeBoundsEachSend(t *testing.T) {
	clk := newClock()
	p := &fakeProvider{name: "a", fn: func(req *http.Request, n int64) (*http.Response, error) {
		if n == 1 {
			<-req.Context().Done()
			return nil, context.Cause(req.Context())
		}
		return respond(req, 200), nil
	}}
	again := func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			resp, err := next.RoundTrip(req)
			if errors.Is(err, gateway.ErrUpstreamTimeout) {
				return next.RoundTrip(req)
			}
			return resp, err
		})
	}
	rt := gateway.Chain(p,
		must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Hour, Clock: clk})),
		again,
		must(breaker.Timeouts(breaker.TimeoutConfig{Header: time.Second, Clock: clk})))
	go func() {
		eventually(t, func() bool { return p.calls.Load() == 1 }, "first send")
		clk.BlockUntil(2)
		clk.Advance(time.Second)
	}()
	resp, _, err := do(context.Background(), rt, false)
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	resp.Body.Close()
	assert.EqualValues(t, 2, p.calls.Load())
}
