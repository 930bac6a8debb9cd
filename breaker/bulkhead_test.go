package breaker_test

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
)

// bulkheadModes runs a test against a fixed Bulkhead and an adaptive one
// starting at the same limit.
var bulkheadModes = []struct {
	name     string
	adaptive bool
}{{"fixed", false}, {"adaptive", true}}

func TestBulkheadCapsCallsInFlight(t *testing.T) {
	for _, mode := range bulkheadModes {
		t.Run(mode.name, func(t *testing.T) {
			b := must(breaker.NewBulkhead(2, breaker.BulkheadConfig{Adaptive: mode.adaptive}))
			p := answering("a", 200)
			rt := gateway.Chain(p, b.Middleware())
			r1, _, err := do(context.Background(), rt, false)
			require.NoError(t, err)
			r2, _, err := do(context.Background(), rt, false)
			require.NoError(t, err)
			assert.Equal(t, 2, b.InFlight(), "slots are held until the bodies close")

			_, err = send(t, rt)
			require.ErrorIs(t, err, breaker.ErrBulkheadFull)
			assert.Equal(t, breaker.Overloaded, breaker.Classify(nil, nil, err))
			assert.EqualValues(t, 2, p.calls.Load())

			_, _ = io.ReadAll(r1.Body) // EOF releases
			assert.Equal(t, 1, b.InFlight())
			r1.Body.Close() // and a later Close does not release again
			r1.Body.Close()
			assert.Equal(t, 1, b.InFlight())
			r2.Body.Close()
			assert.Equal(t, 0, b.InFlight())
			status, err := send(t, rt)
			require.NoError(t, err)
			assert.Equal(t, 200, status)
			assert.Equal(t, 0, b.InFlight())
		})
	}
}

func TestBulkheadReleasesOnErrorAndPanic(t *testing.T) {
	for _, mode := range bulkheadModes {
		t.Run(mode.name, func(t *testing.T) {
			b := must(breaker.NewBulkhead(1, breaker.BulkheadConfig{Adaptive: mode.adaptive}))
			rt := gateway.Chain(hanging("a"), b.Middleware())
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, _, err := do(ctx, rt, false)
			require.Error(t, err)
			assert.Equal(t, 0, b.InFlight())

			failing := gateway.Chain(answering("a", 500), b.Middleware())
			status, err := send(t, failing)
			require.NoError(t, err)
			assert.Equal(t, 500, status)
			assert.Equal(t, 0, b.InFlight())

			panicky := b.Middleware()(&fakeProvider{name: "a", fn: func(*http.Request, int64) (*http.Response, error) { panic("provider bug") }})
			assert.Panics(t, func() { _, _ = send(t, panicky) })
			assert.Equal(t, 0, b.InFlight())
		})
	}
}

func TestBulkheadWaitsUpToMaxWait(t *testing.T) {
	for _, mode := range bulkheadModes {
		t.Run(mode.name, func(t *testing.T) {
			clk := newClock()
			b := must(breaker.NewBulkhead(1, breaker.BulkheadConfig{Adaptive: mode.adaptive, MaxWait: time.Second, Clock: clk}))
			held, err := b.Acquire(context.Background())
			require.NoError(t, err)

			got := make(chan error, 1)
			go func() {
				_, err := b.Acquire(context.Background())
				got <- err
			}()
			clk.BlockUntil(1)
			clk.Advance(time.Second)
			assert.ErrorIs(t, <-got, breaker.ErrBulkheadFull, "MaxWait is read from the clock")

			slots := make(chan breaker.Slot, 1)
			go func() {
				s, err := b.Acquire(context.Background())
				got <- err
				slots <- s
			}()
			clk.BlockUntil(1)
			held.Release(breaker.Success)
			assert.NoError(t, <-got, "a released slot goes to the waiter")
			(<-slots).Release(breaker.Success)
			assert.Equal(t, 0, b.InFlight())

			ctx, cancel := context.WithCancel(context.Background())
			held, err = b.Acquire(context.Background())
			require.NoError(t, err)
			go func() {
				_, err := b.Acquire(ctx)
				got <- err
			}()
			clk.BlockUntil(1)
			cancel()
			assert.ErrorIs(t, <-got, context.Canceled, "the caller's cancellation ends the wait")
			held.Release(breaker.Canceled)
			assert.Equal(t, 0, b.InFlight())
		})
	}
}

func TestBulkheadAdaptiveLimits(t *testing.T) {
	b := must(breaker.NewBulkhead(20, breaker.BulkheadConfig{Adaptive: true, MinLimit: 2, InitialLimit: 4}))
	assert.Equal(t, 4, b.Limit(), "an adaptive limit starts at InitialLimit")
	var slots []breaker.Slot
	for range 4 {
		s, err := b.Acquire(context.Background())
		require.NoError(t, err)
		slots = append(slots, s)
	}
	_, err := b.Acquire(context.Background())
	require.ErrorIs(t, err, breaker.ErrBulkheadFull, "the current limit, not the ceiling, admits")
	assert.Equal(t, 4, b.InFlight())
	for i, s := range slots {
		s.Release([]breaker.Class{breaker.Success, breaker.Retryable, breaker.Canceled, breaker.Overloaded}[i])
	}
	assert.Equal(t, 0, b.InFlight())

	fixed := must(breaker.NewBulkhead(20, breaker.BulkheadConfig{MinLimit: 2, InitialLimit: 4}))
	assert.Equal(t, 20, fixed.Limit(), "a fixed limit is the maximum")
	def := must(breaker.NewBulkhead(20, breaker.BulkheadConfig{Adaptive: true}))
	assert.Equal(t, 20, def.Limit(), "InitialLimit defaults to the maximum")
}

func TestBulkheadUnderLoad(t *testing.T) {
	for _, mode := range bulkheadModes {
		t.Run(mode.name, func(t *testing.T) {
			b := must(breaker.NewBulkhead(8, breaker.BulkheadConfig{Adaptive: mode.adaptive, MaxWait: time.Minute}))
			var inside, peak atomic.Int32
			p := &fakeProvider{name: "a", fn: func(req *http.Request, _ int64) (*http.Response, error) {
				n := inside.Add(1)
				for range 1000 { // raise peak to n, unless another call raised it past
					m := peak.Load()
					if n <= m || peak.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(100 * time.Microsecond)
				inside.Add(-1)
				return respond(req, 200), nil
			}}
			rt := gateway.Chain(p, b.Middleware())
			var wg sync.WaitGroup
			for range 64 {
				wg.Go(func() {
					for range 10 {
						_, err := send(t, rt)
						assert.NoError(t, err)
					}
				})
			}
			wg.Wait()
			assert.LessOrEqual(t, peak.Load(), int32(8))
			assert.Equal(t, 0, b.InFlight())
			assert.EqualValues(t, 640, p.calls.Load())
		})
	}
}
