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

	"github.com/llmgate/gateway/breaker"
)

func TestBulkheadCapsCallsInFlight(t *testing.T) {
	b := breaker.NewBulkhead(2, breaker.BulkheadConfig{})
	p := answering("a", 200)
	rt := b.Middleware()(p)
	req1, _ := chatRequest(t, context.Background(), false)
	req2, _ := chatRequest(t, context.Background(), false)
	r1, err := rt.RoundTrip(req1)
	require.NoError(t, err)
	r2, err := rt.RoundTrip(req2)
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
}

func TestBulkheadReleasesOnErrorAndPanic(t *testing.T) {
	b := breaker.NewBulkhead(1, breaker.BulkheadConfig{})
	rt := b.Middleware()(hanging("a"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := chatRequest(t, ctx, false)
	_, err := rt.RoundTrip(req)
	require.Error(t, err)
	assert.Equal(t, 0, b.InFlight())

	panicky := b.Middleware()(&fakeProvider{name: "a", fn: func(*http.Request, int64) (*http.Response, error) { panic("provider bug") }})
	assert.Panics(t, func() { _, _ = send(t, panicky) })
	assert.Equal(t, 0, b.InFlight())
}

func TestBulkheadWaitsUpToMaxWait(t *testing.T) {
	clk := newClock()
	b := breaker.NewBulkhead(1, breaker.BulkheadConfig{MaxWait: time.Second, Clock: clk})
	require.NoError(t, b.Acquire(context.Background()))

	got := make(chan error, 1)
	go func() { got <- b.Acquire(context.Background()) }()
	clk.BlockUntil(1)
	clk.Advance(time.Second)
	assert.ErrorIs(t, <-got, breaker.ErrBulkheadFull)

	go func() { got <- b.Acquire(context.Background()) }()
	clk.BlockUntil(1)
	b.Release(breaker.Success)
	assert.NoError(t, <-got)
	b.Release(breaker.Success)
	assert.Equal(t, 0, b.InFlight())
}

func TestBulkheadAdaptiveLimit(t *testing.T) {
	b := breaker.NewBulkhead(20, breaker.BulkheadConfig{Adaptive: true, MinLimit: 2})
	for range 100 {
		require.NoError(t, b.Acquire(context.Background()))
		b.Release(breaker.Overloaded)
	}
	assert.Equal(t, 2, b.Limit(), "failures cut the limit to its floor")
	for range 200 {
		require.NoError(t, b.Acquire(context.Background()))
		b.Release(breaker.Success)
	}
	assert.Equal(t, 20, b.Limit(), "successes raise it back to the ceiling")
	for range 10 {
		require.NoError(t, b.Acquire(context.Background()))
		b.Release(breaker.Canceled)
		b2 := b.Limit()
		assert.Equal(t, 20, b2, "cancellations move nothing")
	}
}

func TestBulkheadUnderLoad(t *testing.T) {
	b := breaker.NewBulkhead(8, breaker.BulkheadConfig{MaxWait: time.Minute})
	var inside, peak atomic.Int32
	p := &fakeProvider{name: "a", fn: func(req *http.Request, _ int64) (*http.Response, error) {
		n := inside.Add(1)
		for {
			m := peak.Load()
			if n <= m || peak.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(100 * time.Microsecond)
		inside.Add(-1)
		return respond(req, 200), nil
	}}
	rt := b.Middleware()(p)
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
}

func TestBulkheadRejectsBadConfig(t *testing.T) {
	assert.Panics(t, func() { breaker.NewBulkhead(0, breaker.BulkheadConfig{}) })
	assert.Panics(t, func() { breaker.NewBulkhead(-1, breaker.BulkheadConfig{}) })
	assert.Panics(t, func() { breaker.NewBulkhead(4, breaker.BulkheadConfig{MaxWait: -1}) })
	assert.Panics(t, func() { breaker.NewBulkhead(4, breaker.BulkheadConfig{MinLimit: 5}) })
	assert.Panics(t, func() { breaker.NewBulkhead(4, breaker.BulkheadConfig{Backoff: 1.5}) })
}
