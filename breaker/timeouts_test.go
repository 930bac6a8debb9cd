package breaker_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"runtime"
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

// hanging is a provider that answers nothing until the request ends.
func hanging(name string) *fakeProvider {
	return &fakeProvider{name: name, fn: func(req *http.Request, _ int64) (*http.Response, error) {
		<-req.Context().Done()
		return nil, req.Context().Err()
	}}
}

func TestTimeoutsHeader(t *testing.T) {
	clk := newClock()
	rt := gateway.Chain(hanging("a"), must(breaker.Timeouts(breaker.TimeoutConfig{Header: 30 * time.Second, Clock: clk})))
	type result struct {
		call *gateway.Call
		err  error
	}
	done := make(chan result, 1)
	go func() {
		_, call, err := do(context.Background(), rt, false)
		done <- result{call, err}
	}()
	clk.BlockUntil(1)
	clk.Advance(30 * time.Second)
	r := <-done
	err := r.err
	require.ErrorIs(t, err, gateway.ErrUpstreamTimeout)
	assert.Contains(t, err.Error(), "no response headers and first bytes within 30s")
	live, _ := http.NewRequest(http.MethodPost, chatURL, nil) // the caller's context has not ended
	assert.Equal(t, breaker.Retryable, breaker.Classify(live, nil, err), "an attempt's deadline is a failure")
	attempts := r.call.Attempts()
	require.Len(t, attempts, 1)
	assert.Equal(t, "upstream_timeout", attempts[0].Err, "the attempt records why its context ended")
	assert.Zero(t, attempts[0].Status)
}

func TestTimeoutsCallerCancellationIsNotATimeout(t *testing.T) {
	rt := gateway.Chain(hanging("a"), must(breaker.Timeouts(breaker.TimeoutConfig{Clock: newClock()})))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, call, err := do(ctx, rt, false)
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, gateway.ErrUpstreamTimeout)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, chatURL, nil)
	assert.Equal(t, breaker.Canceled, breaker.Classify(req, nil, err))
	attempts := call.Attempts()
	require.Len(t, attempts, 1)
	assert.Equal(t, "client_closed", attempts[0].Err)
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
		must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: clk})),
		must(breaker.Timeouts(breaker.TimeoutConfig{FirstToken: 10 * time.Second, Clock: clk})))
	var call *gateway.Call
	done := make(chan *http.Response, 1)
	go func() {
		resp, c, err := do(context.Background(), rt, true)
		assert.NoError(t, err)
		call = c
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
	attempts := call.Attempts()
	require.Len(t, attempts, 2)
	assert.Equal(t, "upstream_timeout", attempts[0].Err)
	assert.Zero(t, attempts[0].Status, "the stalled stream was never passed on")
	assert.Equal(t, 200, attempts[1].Status)
}

// A healthy stream far longer than every limit but Total is never cut.
func TestTimeoutsNeverCutAHealthyLongStream(t *testing.T) {
	clk := newClock()
	pr, pw := io.Pipe()
	p := &fakeProvider{name: "a", fn: func(req *http.Request, _ int64) (*http.Response, error) { return streamResponse(req, pr), nil }}
	rt := gateway.Chain(p, must(breaker.Timeouts(breaker.TimeoutConfig{Header: 5 * time.Second, FirstToken: 5 * time.Second, Idle: 5 * time.Second,
		Total: time.Hour, Clock: clk})))
	go func() { _, _ = pw.Write([]byte(contentEvent("t0"))) }()
	resp, _, err := do(context.Background(), rt, true)
	require.NoError(t, err)
	buf := make([]byte, 4096)
	n, err := io.ReadAtLeast(resp.Body, buf, len(contentEvent("t0")))
	require.NoError(t, err)
	require.Equal(t, contentEvent("t0"), string(buf[:n]))
	for i := range 300 { // 300 events 4 s apart: 20 min, 240× the idle limit
		clk.BlockUntil(1) // the watchdog has armed its timer for this instant
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
	resp, _, _ := startStream(t, breaker.TimeoutConfig{Idle: 5 * time.Second, Clock: clk})
	clk.Advance(4 * time.Second)
	clk.Advance(time.Second)
	_, err := io.ReadAll(resp.Body)
	require.ErrorIs(t, err, gateway.ErrUpstreamTimeout)
	assert.Contains(t, err.Error(), "no data from upstream for 5s")
}

// hookClock is a fake clock that runs a hook, once, at the next Now: it
// stands for what other goroutines do while the reader of the clock is
// descheduled.
type hookClock struct {
	*gatewaytest.Clock
	hook atomic.Pointer[func()]
}

func (c *hookClock) Now() time.Time {
	if f := c.hook.Swap(nil); f != nil {
		(*f)()
	}
	return c.Clock.Now()
}

// Regression: the watchdog read the time of the last read, then the clock.
// A read and a move of the clock in between (the watchdog descheduled)
// paired a stale last read with a fresh clock, and Idle cut a stream that
// had just delivered data.
func TestTimeoutsIdleCountsAReadRacingTheWatchdog(t *testing.T) {
	fake := newClock()
	clk := &hookClock{Clock: fake}
	resp, pw, cut := startStream(t, breaker.TimeoutConfig{Idle: 5 * time.Second, Clock: clk}) // first event read at 0 s
	buf := make([]byte, 4096)
	fake.BlockUntil(1) // the watchdog waits for 5 s

	go func() { _, _ = pw.Write([]byte(contentEvent("b"))) }()
	hooked := make(chan struct{})
	hook := func() { // in the watchdog, woken at 5 s, as it reads the clock
		defer close(hooked)
		_, err := io.ReadAtLeast(resp.Body, buf, len(contentEvent("b"))) // a read at 5 s
		assert.NoError(t, err)
		fake.Advance(3 * time.Second) // then the clock moves to 8 s
	}
	clk.hook.Store(&hook)
	fake.Advance(5 * time.Second)
	<-hooked
	// The stream was read 3 s ago: the watchdog must re-arm for 10 s, not cut.
	eventually(t, func() bool { return fake.Timers() == 1 || cut.Load() }, "the watchdog re-arms or cuts")
	require.False(t, cut.Load(), "Idle cut a stream read 3 s ago")
	fake.Advance(time.Second) // 9 s: still within Idle of the read at 5 s
	go func() { _, _ = pw.Write([]byte(contentEvent("c"))) }()
	n, err := io.ReadAtLeast(resp.Body, buf, len(contentEvent("c")))
	require.NoError(t, err, "a stream read 4 s ago is not idle")
	assert.Equal(t, contentEvent("c"), string(buf[:n]))
	// And Idle still counts from the last read, at 9 s.
	fake.BlockUntil(1)
	fake.Advance(5 * time.Second)
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
	rt := gateway.Chain(p, must(breaker.Timeouts(breaker.TimeoutConfig{Idle: 5 * time.Second, Total: 12 * time.Second, Clock: clk})))
	go func() { _, _ = pw.Write([]byte(contentEvent("a"))) }()
	resp, _, err := do(context.Background(), rt, true)
	require.NoError(t, err)
	defer resp.Body.Close()
	buf := make([]byte, 4096)
	// An event every 3 s, well inside Idle, up to the 12 s mark: each read
	// succeeds. Before each move of the clock, wait until the watchdog has
	// armed its timer for the current instant, so that it never computes a
	// deadline across a move.
	for i := range 4 {
		_, err := io.ReadAtLeast(resp.Body, buf, 1)
		require.NoError(t, err, "read at %ds", 3*i)
		clk.BlockUntil(1)
		clk.Advance(3 * time.Second)
		if i < 3 {
			go func() { _, _ = pw.Write([]byte(contentEvent("b"))) }()
		}
	}
	// The clock is at 12 s: Total has passed, and the watchdog cuts the
	// attempt (the upstream then closes the stream) while the caller reads.
	_, readErr := io.ReadAtLeast(resp.Body, buf, 1)
	require.ErrorIs(t, readErr, gateway.ErrUpstreamTimeout)
	assert.Contains(t, readErr.Error(), "total timeout of 12s")
}

func TestTimeoutsCloseReleasesTheAttempt(t *testing.T) {
	var ended atomic.Bool
	p := &fakeProvider{name: "a", fn: func(req *http.Request, _ int64) (*http.Response, error) {
		context.AfterFunc(req.Context(), func() { ended.Store(true) })
		return respond(req, 200), nil
	}}
	rt := gateway.Chain(p, must(breaker.Timeouts(breaker.TimeoutConfig{Clock: newClock()})))
	resp, _, err := do(context.Background(), rt, false)
	require.NoError(t, err)
	assert.False(t, ended.Load(), "the body is still readable")
	_, err = io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, resp.Body.Close(), "a second Close is harmless")
	eventually(t, ended.Load, "the attempt's context ends at Close")
}

// startStream sends a streaming call through Chain(upstream, Timeouts(cfg)),
// through the entry point, to an upstream
// that sends one content event and then whatever the test writes to pw; when
// the attempt is cut, the upstream's stream ends and cut is set. It returns
// once the first event has been read. The body is closed at cleanup.
func startStream(t *testing.T, cfg breaker.TimeoutConfig) (*http.Response, *io.PipeWriter, *atomic.Bool) {
	t.Helper()
	pr, pw := io.Pipe()
	cut := new(atomic.Bool)
	p := &fakeProvider{name: "a", fn: func(req *http.Request, _ int64) (*http.Response, error) {
		go func() {
			<-req.Context().Done()
			cut.Store(true)
			pw.CloseWithError(req.Context().Err())
		}()
		return streamResponse(req, pr), nil
	}}
	go func() { _, _ = pw.Write([]byte(contentEvent("a"))) }()
	resp, _, err := do(context.Background(), gateway.Chain(p, must(breaker.Timeouts(cfg))), true)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	_, err = io.ReadAtLeast(resp.Body, make([]byte, 4096), len(contentEvent("a")))
	require.NoError(t, err)
	return resp, pw, cut
}

// On the system clock, an attempt under Timeouts runs no goroutine of its
// own: its watchdog is a timer, armed and re-armed on the attempt's path,
// not a goroutine it hands each phase to. A goroutine per attempt (and two
// handoffs to it per call) cost the main job a measurable share of its
// throughput.
func TestTimeoutsStartNoGoroutineOnTheSystemClock(t *testing.T) {
	var others []string
	p := &fakeProvider{name: "a", fn: func(req *http.Request, _ int64) (*http.Response, error) {
		others = goroutinesIn("github.com/llmgate/gateway/breaker.", "breaker_test.")
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{}`)), Request: req}, nil
	}}
	resp, _, err := do(context.Background(), gateway.Chain(p, must(breaker.Timeouts(breaker.TimeoutConfig{}))), false)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Empty(t, others, "goroutines of package breaker while the provider answers, besides the caller's")
}

// goroutinesIn returns the stacks of the goroutines that run code whose name
// holds pkg, except those that also run code whose name holds except.
func goroutinesIn(pkg, except string) []string {
	buf := make([]byte, 1<<20)
	var out []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, pkg) && !strings.Contains(g, except) {
			out = append(out, g)
		}
	}
	return out
}

// The watchdog's timer is set no later than the earliest limit a later phase
// could have (here Idle, 2 min), so it wakes before a longer Header limit
// (10 min), finds it has not passed and waits on: the header limit still
// cuts at 10 min, not at 2.
func TestTimeoutsHeaderLongerThanIdle(t *testing.T) {
	clk := newClock()
	rt := gateway.Chain(hanging("a"), must(breaker.Timeouts(breaker.TimeoutConfig{Header: 10 * time.Minute, Idle: 2 * time.Minute, Clock: clk})))
	done := make(chan error, 1)
	go func() {
		_, _, err := do(context.Background(), rt, false)
		done <- err
	}()
	clk.BlockUntil(1)
	clk.Advance(2 * time.Minute)
	clk.BlockUntil(1) // woken early, set again for the header limit
	select {
	case err := <-done:
		t.Fatalf("cut at the idle limit before any body: %v", err)
	default:
	}
	clk.Advance(8 * time.Minute)
	err := <-done
	require.ErrorIs(t, err, gateway.ErrUpstreamTimeout)
	assert.Contains(t, err.Error(), "no response headers and first bytes within 10m0s")
}

// headersThenStall is a streaming provider that reports its response
// headers through the request's httptrace hook, as net/http's transport
// does, then sends a role event and nothing more. It closes reported once
// the headers are reported, so a test advances its clock after them.
func headersThenStall(reported chan<- struct{}) *fakeProvider {
	return &fakeProvider{name: "a", fn: func(req *http.Request, _ int64) (*http.Response, error) {
		if tr := httptrace.ContextClientTrace(req.Context()); tr != nil && tr.GotFirstResponseByte != nil {
			tr.GotFirstResponseByte()
		}
		close(reported)
		pr, pw := io.Pipe()
		go func() {
			_, _ = pw.Write([]byte(roleEvent))
			<-req.Context().Done()
			pw.CloseWithError(req.Context().Err())
		}()
		return streamResponse(req, pr), nil
	}}
}

// Once a stream's headers have arrived only FirstToken bounds it, whether
// Header is the shorter limit (the transport's report moves the attempt on)
// or the longer one (FirstToken bounded it from the start).
func TestTimeoutsStreamHeadersThenFirstToken(t *testing.T) {
	for _, tc := range []struct {
		name               string
		header, firstToken time.Duration
	}{
		{"Header shorter", 5 * time.Second, 20 * time.Second},
		{"Header longer", 20 * time.Second, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			reported := make(chan struct{})
			rt := gateway.Chain(headersThenStall(reported), must(breaker.Timeouts(breaker.TimeoutConfig{
				Header: tc.header, FirstToken: tc.firstToken, Clock: clk})))
			done := make(chan error, 1)
			go func() {
				_, _, err := do(context.Background(), rt, true)
				done <- err
			}()
			clk.BlockUntil(1)
			<-reported // the headers have arrived before the clock moves
			if tc.header < tc.firstToken {
				clk.Advance(tc.header)
				clk.BlockUntil(1) // woken at the header limit, which no longer applies
				select {
				case err := <-done:
					t.Fatalf("cut at the header limit after the headers: %v", err)
				default:
				}
				clk.Advance(tc.firstToken - tc.header)
			} else {
				clk.Advance(tc.firstToken)
			}
			err := <-done
			require.ErrorIs(t, err, gateway.ErrUpstreamTimeout)
			assert.Contains(t, err.Error(), "no stream content within "+tc.firstToken.String())
		})
	}
}

// An attempt that fails ends its context when its error is returned, so
// nothing of it stays registered with the call's context, which may live
// on for a long time (a retry's wait, the next target), and no limit fires
// later. Standalone, Timeouts makes that context and must end it; over it,
// Hedge makes it and ends it too when it takes the failure, so that case
// holds the pair's contract, not Timeouts' own line.
func TestTimeoutsEndTheAttemptContextOnAFailure(t *testing.T) {
	for name, mws := range map[string][]gateway.Middleware{
		"Timeouts":            {must(breaker.Timeouts(breaker.TimeoutConfig{Clock: newClock()}))},
		"Hedge over Timeouts": {must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Hour})), must(breaker.Timeouts(breaker.TimeoutConfig{Clock: newClock()}))},
	} {
		t.Run(name, func(t *testing.T) {
			var seen context.Context
			p := &fakeProvider{name: "a", fn: func(req *http.Request, _ int64) (*http.Response, error) {
				seen = req.Context()
				return nil, io.ErrUnexpectedEOF
			}}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, _, err := do(ctx, gateway.Chain(p, mws...), false)
			require.Error(t, err)
			require.NotNil(t, seen)
			assert.Error(t, seen.Err(), "the failed attempt's context ends with it")
			assert.NoError(t, ctx.Err(), "not the call's")
		})
	}
}
