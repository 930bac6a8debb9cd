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
)

// hanging is a provider that answers nothing until the request ends.
func hanging(name string) *fakeProvider {
	return &fakeProvider{name: name, fn: func(req *http.Request, _ int64) (*http.Response, error) {
		<-req.Context().Done()
		return nil, req.Context().Err()
	}}
}

func TestTimeoutsHeader(t *testing.T) {
	clk := newClock()
	rt := breaker.Timeouts(breaker.TimeoutConfig{Header: 30 * time.Second, Clock: clk})(hanging("a"))
	req, _ := chatRequest(t, context.Background(), false)
	done := make(chan error, 1)
	go func() {
		_, err := rt.RoundTrip(req)
		done <- err
	}()
	clk.BlockUntil(1)
	clk.Advance(30 * time.Second)
	err := <-done
	require.ErrorIs(t, err, gateway.ErrUpstreamTimeout)
	assert.Contains(t, err.Error(), "no response headers within 30s")
	assert.Equal(t, breaker.Retryable, breaker.Classify(req, nil, err), "an attempt's deadline is a failure")
}

func TestTimeoutsCallerCancellationIsNotATimeout(t *testing.T) {
	rt := breaker.Timeouts(breaker.TimeoutConfig{Clock: newClock()})(hanging("a"))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := chatRequest(t, ctx, false)
	cancel()
	_, err := rt.RoundTrip(req)
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, gateway.ErrUpstreamTimeout)
	assert.Equal(t, breaker.Canceled, breaker.Classify(req, nil, err))
}

// stalling returns a provider whose first streams send a role event and
// then nothing; later ones are healthy.
func stalling(stalls int64) (*fakeProvider, *atomic.Int32) {
	var closed atomic.Int32
	p := &fakeProvider{name: "a", fn: func(req *http.Request, n int64) (*http.Response, error) {
		if n > stalls {
			return streamResponse(req, strings.NewReader(roleEvent+contentEvent("ok")+"data: [DONE]\n\n")), nil
		}
		pr, pw := io.Pipe()
		go func() {
			_, _ = pw.Write([]byte(roleEvent))
			<-req.Context().Done()
			pw.CloseWithError(req.Context().Err())
			closed.Add(1)
		}()
		return streamResponse(req, pr), nil
	}}
	return p, &closed
}

// A stream that stalls before its first content is cut at FirstToken and
// retried with nothing sent to the caller.
func TestTimeoutsFirstTokenStallIsRetried(t *testing.T) {
	clk := newClock()
	p, closed := stalling(1)
	rt := gateway.Chain(p,
		breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: clk}),
		breaker.Timeouts(breaker.TimeoutConfig{FirstToken: 10 * time.Second, Clock: clk}))
	req, _ := chatRequest(t, context.Background(), true)
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := rt.RoundTrip(req)
		assert.NoError(t, err)
		done <- resp
	}()
	eventually(t, func() bool { return p.calls.Load() == 1 }, "first attempt")
	clk.BlockUntil(1)
	clk.Advance(10 * time.Second)
	resp := <-done
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, roleEvent+contentEvent("ok")+"data: [DONE]\n\n", string(b), "one clean stream")
	assert.EqualValues(t, 2, p.calls.Load())
	eventually(t, func() bool { return closed.Load() == 1 }, "the stalled attempt's context ended")
}

// A healthy stream far longer than every limit but Total is never cut.
func TestTimeoutsNeverCutAHealthyLongStream(t *testing.T) {
	clk := newClock()
	pr, pw := io.Pipe()
	p := &fakeProvider{name: "a", fn: func(req *http.Request, _ int64) (*http.Response, error) { return streamResponse(req, pr), nil }}
	rt := breaker.Timeouts(breaker.TimeoutConfig{Header: 5 * time.Second, FirstToken: 5 * time.Second, Idle: 5 * time.Second,
		Total: time.Hour, Clock: clk})(p)
	req, _ := chatRequest(t, context.Background(), true)
	go func() { _, _ = pw.Write([]byte(contentEvent("t0"))) }()
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	buf := make([]byte, 4096)
	n, err := io.ReadAtLeast(resp.Body, buf, len(contentEvent("t0")))
	require.NoError(t, err)
	require.Equal(t, contentEvent("t0"), string(buf[:n]))
	for i := range 300 { // 300 events 4 s apart: 20 min, 240× the idle limit
		clk.Advance(4 * time.Second)
		ev := contentEvent("t")
		go func() { _, _ = pw.Write([]byte(ev)) }()
		n, err := io.ReadAtLeast(resp.Body, buf, len(ev))
		require.NoError(t, err, "event %d", i)
		require.Equal(t, ev, string(buf[:n]))
	}
	go func() { _, _ = pw.Write([]byte("data: [DONE]\n\n")); pw.Close() }()
	rest, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "data: [DONE]\n\n", string(rest))
	resp.Body.Close()
}

func TestTimeoutsIdleCutsAStalledStream(t *testing.T) {
	clk := newClock()
	pr, pw := io.Pipe()
	p := &fakeProvider{name: "a", fn: func(req *http.Request, _ int64) (*http.Response, error) {
		go func() {
			<-req.Context().Done()
			pw.CloseWithError(req.Context().Err())
		}()
		return streamResponse(req, pr), nil
	}}
	rt := breaker.Timeouts(breaker.TimeoutConfig{Idle: 5 * time.Second, Clock: clk})(p)
	req, _ := chatRequest(t, context.Background(), true)
	go func() { _, _ = pw.Write([]byte(contentEvent("a"))) }()
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	buf := make([]byte, 4096)
	_, err = io.ReadAtLeast(resp.Body, buf, len(contentEvent("a")))
	require.NoError(t, err)
	clk.Advance(4 * time.Second)
	clk.Advance(time.Second)
	_, err = io.ReadAll(resp.Body)
	require.ErrorIs(t, err, gateway.ErrUpstreamTimeout)
	assert.Contains(t, err.Error(), "no data from upstream for 5s")
}

func TestTimeoutsTotalCutsEvenAHealthyStream(t *testing.T) {
	clk := newClock()
	pr, pw := io.Pipe()
	p := &fakeProvider{name: "a", fn: func(req *http.Request, _ int64) (*http.Response, error) {
		go func() {
			<-req.Context().Done()
			pw.CloseWithError(req.Context().Err())
		}()
		return streamResponse(req, pr), nil
	}}
	rt := breaker.Timeouts(breaker.TimeoutConfig{Idle: 5 * time.Second, Total: 12 * time.Second, Clock: clk})(p)
	req, _ := chatRequest(t, context.Background(), true)
	go func() { _, _ = pw.Write([]byte(contentEvent("a"))) }()
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	buf := make([]byte, 4096)
	var readErr error
	for i := 0; i < 10 && readErr == nil; i++ {
		_, readErr = io.ReadAtLeast(resp.Body, buf, 1)
		clk.Advance(3 * time.Second)
		go func() { _, _ = pw.Write([]byte(contentEvent("b"))) }()
	}
	require.ErrorIs(t, readErr, gateway.ErrUpstreamTimeout)
	assert.Contains(t, readErr.Error(), "total timeout of 12s")
}

func TestTimeoutsCloseReleasesTheAttempt(t *testing.T) {
	var ended atomic.Bool
	p := &fakeProvider{name: "a", fn: func(req *http.Request, _ int64) (*http.Response, error) {
		context.AfterFunc(req.Context(), func() { ended.Store(true) })
		return respond(req, 200), nil
	}}
	rt := breaker.Timeouts(breaker.TimeoutConfig{Clock: newClock()})(p)
	req, _ := chatRequest(t, context.Background(), false)
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	assert.False(t, ended.Load(), "the body is still readable")
	_, err = io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, resp.Body.Close(), "a second Close is harmless")
	eventually(t, ended.Load, "the attempt's context ends at Close")
}

func TestTimeoutsRejectNegativeLimits(t *testing.T) {
	for _, cfg := range []breaker.TimeoutConfig{{Total: -1}, {Header: -1}, {FirstToken: -1}, {Idle: -1}} {
		assert.Panics(t, func() { breaker.Timeouts(cfg) })
	}
}
