package router_test

import (
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

// Weights and targets swapped 1,000 times while 64 goroutines call: no call
// fails and the race detector sees nothing.
func TestRouterUpdateUnderLoad(t *testing.T) {
	a := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{})
	b := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{})
	canary := gatewaytest.MustNewSim("canary", gatewaytest.SimConfig{})
	r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1}, {Provider: b, Weight: 1}}, router.Config{})
	client := gateway.NewClient(r)

	stop := make(chan struct{})
	var calls, failed atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for i := 0; i < 5000; i++ { // bounded even if the updates were slow
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Post(rtrChatURL, "application/json", strings.NewReader(rtrChatBody))
				calls.Add(1)
				if err != nil {
					failed.Add(1)
					continue
				}
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
				resp.Body.Close()
			}
		})
	}
	start := time.Now()
	for i := range 1000 {
		// Interleave: about two calls between updates, bounded in time.
		for calls.Load() < int64(2*i) && time.Since(start) < 10*time.Second {
			runtime.Gosched()
		}
		targets := []router.Target{{Provider: a, Weight: 1 + i%7}, {Provider: b, Weight: 1 + i%5, Tier: i % 2}}
		if i%3 == 0 {
			targets = append(targets, router.Target{Provider: canary, Weight: 1})
		}
		require.NoError(t, r.Update(targets))
	}
	close(stop)
	wg.Wait()
	t.Logf("%d calls during 1000 updates", calls.Load())
	assert.Zero(t, failed.Load())
	assert.Positive(t, calls.Load())
}

// A target that stays through an Update keeps its state: its open breaker
// and its cooldown.
func TestRouterUpdateKeepsTargetState(t *testing.T) {
	clk := gatewaytest.NewClock(rtrEpoch)
	dead := gatewaytest.MustNewSim("dead", gatewaytest.SimConfig{Clock: clk, Seed: 1, Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{503}}})
	limited := gatewaytest.MustNewSim("limited", gatewaytest.SimConfig{Clock: clk, Seed: 1,
		Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{429}, RetryAfter: time.Minute}})
	live := gatewaytest.MustNewSim("live", gatewaytest.SimConfig{Clock: clk})
	r := rtrRouter(t, []router.Target{{Provider: dead, Weight: 1}, {Provider: limited, Weight: 1}, {Provider: live, Weight: 1}},
		router.Config{Clock: clk})
	for range 30 {
		resp, _, _ := rtrDo(t, r, rtrChatBody)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	deadSeen, limitedSeen := dead.Requests(), limited.Requests()
	assert.Equal(t, int64(5), deadSeen, "the breaker opened after its threshold")
	assert.Equal(t, int64(1), limitedSeen, "cooling down after one 429")

	require.NoError(t, r.Update([]router.Target{{Provider: dead, Weight: 10}, {Provider: limited, Weight: 10}, {Provider: live, Weight: 1}}))
	for range 30 {
		resp, _, _ := rtrDo(t, r, rtrChatBody)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	assert.Equal(t, deadSeen, dead.Requests(), "still open after Update")
	assert.Equal(t, limitedSeen, limited.Requests(), "still cooling down after Update")

	// A target removed and added back starts afresh.
	require.NoError(t, r.Update([]router.Target{{Provider: live, Weight: 1}}))
	require.NoError(t, r.Update([]router.Target{{Provider: dead, Weight: 1}, {Provider: live, Weight: 1}}))
	rtrDo(t, r, rtrChatBody)
	assert.Equal(t, deadSeen+1, dead.Requests())
}

// A canary share is a weight, and Update changes it at once; a failed Update
// changes nothing.
func TestRouterCanaryWeight(t *testing.T) {
	main := gatewaytest.MustNewSim("main", gatewaytest.SimConfig{})
	canary := gatewaytest.MustNewSim("canary", gatewaytest.SimConfig{})
	r := rtrRouter(t, []router.Target{{Provider: main, Weight: 1}}, router.Config{})
	for range 100 {
		rtrDo(t, r, rtrChatBody)
	}
	require.NoError(t, r.Update([]router.Target{{Provider: main, Weight: 95}, {Provider: canary, Weight: 5}}))
	for range 1000 {
		rtrDo(t, r, rtrChatBody)
	}
	assert.Equal(t, int64(50), canary.Requests(), "5% of 1000, exactly: smooth round-robin")

	err := r.Update([]router.Target{{Provider: main, Weight: 0}})
	assert.ErrorIs(t, err, router.ErrConfig)
	assert.Equal(t, []string{"main", "canary"}, r.Targets())
}

// Regression: Update wrote a target's breaker while calls in flight read it
// without a lock (a data race under -race).
func TestRouterUpdateRacesBreakerRead(t *testing.T) {
	sim := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{})
	targets := []router.Target{{Provider: sim, Weight: 1,
		Breaker: must(breaker.NewCircuitBreaker("a", breaker.Config{}))}}
	r := rtrRouter(t, targets, router.Config{})
	client := gateway.NewClient(r)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 1_000_000 { // bounded, if the calls below were to hang
			select {
			case <-stop:
				return
			default:
			}
			assert.NoError(t, r.Update(targets))
		}
	})
	for range 200 {
		resp, err := client.Post(rtrChatURL, "application/json", strings.NewReader(rtrChatBody))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	}
	close(stop)
	wg.Wait()
}

// Regression: a call in flight across an Update that gave a target another
// breaker asked the new breaker whether to try it but dispatched through
// the old one. It must use its own snapshot's breaker throughout: here the
// new breaker of b refuses, the old one admits, and the call on the old
// snapshot falls back to b.
func TestRouterUpdateInFlightUsesItsSnapshotsBreaker(t *testing.T) {
	good := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{})
	var r *router.Router
	var next []router.Target
	failing := rtrFunc("a", func(req *http.Request) (*http.Response, error) {
		require.NoError(t, r.Update(next)) // while the call is in flight
		return &http.Response{StatusCode: 500, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
	})
	r = rtrRouter(t, []router.Target{{Provider: failing, Weight: 1}, {Provider: good, Weight: 1, Tier: 1}},
		router.Config{})
	refusing := must(breaker.NewCircuitBreaker("b", breaker.Config{}))
	refusing.CoolDown(time.Hour)
	next = []router.Target{{Provider: failing, Weight: 1}, {Provider: good, Weight: 1, Tier: 1, Breaker: refusing}}

	resp, _, call := rtrDo(t, r, rtrChatBody)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"a", "b"}, rtrTargets(call))
}
