package gateway_test

import (
	"fmt"
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
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
)

// upstreamLog is what providers actually received, in order: the truth the
// Call's attempts must match.
type upstreamLog struct {
	mu    sync.Mutex
	tries []string
}

func (l *upstreamLog) add(s string) {
	l.mu.Lock()
	l.tries = append(l.tries, s)
	l.mu.Unlock()
}

func (l *upstreamLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.tries
	l.tries = nil
	return out
}

// scripted is a Provider that answers its n-th request with script[n %
// len(script)]: a status, or 0 for a connection reset. It logs each request
// with the model it was sent.
type scripted struct {
	name   string
	script []int
	log    *upstreamLog
	mu     sync.Mutex
	n      int
}

func (p *scripted) Name() string { return p.name }

func (p *scripted) RoundTrip(req *http.Request) (*http.Response, error) {
	req.Body.Close()
	p.mu.Lock()
	status := p.script[p.n%len(p.script)]
	p.n++
	p.mu.Unlock()
	model := gateway.OutboundFrom(req.Context()).Model
	if status == 0 {
		p.log.add(p.name + "/" + model + ":reset")
		return nil, io.ErrUnexpectedEOF
	}
	p.log.add(fmt.Sprintf("%s/%s:%d", p.name, model, status))
	body := `{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`
	if status != 200 {
		body = `{"error":{"message":"no","type":"api_error","code":"x"}}`
	}
	return jsonReply(req, status, body), nil
}

// tap is a middleware that does nothing but pass the request on: a logging
// or metrics middleware of a user's, which must change nothing about what
// the gateway records.
func tap(seen *int) gateway.Middleware {
	return func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			*seen++
			return next.RoundTrip(req)
		})
	}
}

// attemptText renders an attempt as the upstream log does.
func attemptText(a gateway.Attempt) string {
	if a.Status == 0 {
		return a.Target + "/" + a.Model + ":reset"
	}
	return fmt.Sprintf("%s/%s:%d", a.Target, a.Model, a.Status)
}

// Regression (issue: attempts had four owners): arbitrary middlewares
// between the entry point, Retry, Hedge, the router, a target's own
// middlewares (a Retry of its own among them) and the provider leave the
// Call's attempts exactly what the providers received, each under its
// target's name with the model sent, and a shared Budget credited once per
// call. Before, Chain(sim, breaker.Retry(…), anyLoggingMiddleware) recorded
// no attempt at all and Served() was empty.
func TestAttemptsExactWithMiddlewaresBetweenEveryLayer(t *testing.T) {
	clk := gatewaytest.NewClock(time.Unix(1_700_000_000, 0))
	log := &upstreamLog{}
	a := &scripted{name: "a", script: []int{503, 200, 500}, log: log}
	b := &scripted{name: "b", script: []int{0, 200}, log: log}
	c := &scripted{name: "c", script: []int{200}, log: log}
	budget := must(breaker.NewBudget(breaker.BudgetConfig{Ratio: 1, MinRetries: 1000, Clock: clk}))
	var n [8]int
	innerRetry := must(breaker.Retry(breaker.RetryConfig{MaxAttempts: 2, BaseDelay: time.Nanosecond, Budget: budget, Clock: clk}))
	timeouts := must(breaker.Timeouts(breaker.TimeoutConfig{Clock: clk}))
	rtr, err := router.New("llm", []router.Target{
		{Provider: a, Weight: 1, ModelMap: map[string]string{"gpt-4o": "gpt-4o-2024"},
			Middlewares: []gateway.Middleware{tap(&n[0]), timeouts, tap(&n[1])}},
		{Provider: b, Weight: 1, Tier: 1,
			Middlewares: []gateway.Middleware{tap(&n[2]), innerRetry, tap(&n[3])}},
		{Provider: c, Name: "c-canary", Weight: 1, Tier: 2},
	}, router.Config{Budget: budget, Clock: clk})
	require.NoError(t, err)
	retry := must(breaker.Retry(breaker.RetryConfig{MaxAttempts: 3, BaseDelay: time.Nanosecond, Budget: budget, Clock: clk}))
	hedge := must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Hour, Budget: budget, Clock: clk}))
	chain := gateway.Chain(rtr, tap(&n[4]), retry, tap(&n[5]), hedge, tap(&n[6]))
	box := &callBox{}
	client := gateway.NewClient(chain, gateway.WithClock(clk), gateway.WithObserver(box.observe))

	const calls = 12
	before := budget.Available()
	extra, switches := 0, 0 // attempts after a call's first; moves to another target
	for i := range calls {
		resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode, "call %d", i)

		call := box.take(t)
		var got []string
		for _, at := range call.Attempts() {
			got = append(got, attemptText(at))
		}
		want := log.take()
		require.NotEmpty(t, want)
		assert.Equal(t, want, got, "call %d: the attempts are what the providers received", i)
		last := call.Attempts()[len(call.Attempts())-1]
		target, model := call.Served()
		assert.Equal(t, last.Target, target, "call %d", i)
		assert.Equal(t, last.Model, model)
		for j, at := range call.Attempts() {
			assert.Equal(t, j+1, at.N)
		}
		extra += len(want) - 1
		for j := 1; j < len(call.Attempts()); j++ {
			if call.Attempts()[j].Target != call.Attempts()[j-1].Target {
				switches++
			}
		}
	}
	// Every attempt after a call's first withdrew one retry (a fallback, an
	// outer or an inner retry), but a fallback on credit that succeeded (a
	// move to a target whose latest outcome was a success); each call
	// deposited Ratio 1 exactly once, though Retry, Hedge, the router and
	// b's own Retry all credit it. Two deposits a call would put Available
	// `calls` higher, past the upper bound, as switches < calls.
	require.Less(t, switches, calls)
	assert.GreaterOrEqual(t, budget.Available(), before+calls-extra, "one withdrawal per retry at most")
	assert.LessOrEqual(t, budget.Available(), before+calls-extra+switches, "the budget is credited once per call")
	assert.Positive(t, extra, "the script makes calls fail over and retry")
	for i, seen := range n[4:7] {
		assert.Equal(t, calls, seen, "outer middleware %d sees each call once (no hedge fired)", i)
	}
}

// callBox receives the Call of each request from an observer; a test takes
// the Call of the request it just made.
type callBox struct {
	mu   sync.Mutex
	call *gateway.Call
}

func (b *callBox) observe(c *gateway.Call) {
	b.mu.Lock()
	b.call = c
	b.mu.Unlock()
}

func (b *callBox) take(t *testing.T) *gateway.Call {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	require.NotNil(t, b.call, "the observer saw no call")
	c := b.call
	b.call = nil
	return c
}

// A hedge that fires records two attempts at the boundary: the loser's with
// its cancellation's cause, the winner's with its status; Served names the
// winner. Here the first attempt, hedged, answers first, and the hedge it
// beat hangs on after its cancellation, past the winner's last byte.
func TestAttemptsOfAHedgedCall(t *testing.T) {
	clk := gatewaytest.NewClock(time.Unix(1_700_000_000, 0))
	started, hedgeSent, loserDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	first := true
	var mu sync.Mutex
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		mu.Lock()
		slow := first
		first = false
		mu.Unlock()
		if slow {
			close(started)
			<-hedgeSent // answers once the hedge is out
			return jsonReply(req, 200, `{"choices":[{"index":0,"message":{"content":"ok"},"finish_reason":"stop"}]}`), nil
		}
		close(hedgeSent)
		<-req.Context().Done() // hangs until the first wins,
		<-loserDone            // and answers only after the winner's body was read
		return nil, req.Context().Err()
	}}
	hedge := must(breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, Clock: clk}))
	var outside, inside int
	box := &callBox{}
	var seenByObserver []gateway.Attempt
	snapshot := func(c *gateway.Call) { seenByObserver = c.Attempts() }
	client := gateway.NewClient(gateway.Chain(p, tap(&outside), hedge, tap(&inside)),
		gateway.WithClock(clk), gateway.WithObserver(snapshot), gateway.WithObserver(box.observe))
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-started
		clk.BlockUntil(1) // the hedge's timer
		clk.Advance(time.Second)
	}()
	resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","messages":[]}`))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body) // the call's usage is recorded: it has ended
	assert.Nil(t, seenByObserver, "the observers wait for the attempt still running")
	close(loserDone)
	resp.Body.Close()
	<-done
	call := box.take(t)
	as := call.Attempts()
	require.Len(t, as, 2)
	assert.Equal(t, 200, as[0].Status, "the first attempt answered first")
	assert.Equal(t, "hedge_lost", as[1].Err, "the loser is recorded with why it was cancelled")
	// Regression: the observers ran at the winner's EOF, before the loser's
	// attempt was recorded, so billing would miss it.
	assert.Equal(t, as, seenByObserver, "the observer sees every attempt, the loser's included")
	target, _ := call.Served()
	assert.Equal(t, "fake", target)
	assert.Equal(t, 1, outside, "a middleware outside Hedge sees the call once")
	assert.Equal(t, 2, inside, "one inside sees each hedged attempt")
}

// The README's quick start: one default Budget shared by Retry and a router
// over a dead provider and a healthy backup. No call fails while the backup
// is healthy (before, the 5th call of such a demo got 503: the budget's
// floor of 3 ran out before the dead target's breaker opened).
func TestQuickStartNeverFailsWhileABackupIsHealthy(t *testing.T) {
	for _, faults := range []gatewaytest.Faults{
		{ErrorRate: 1, ErrorStatuses: []int{503}},
		{ErrorRate: 0.5, ErrorStatuses: []int{500, 503}},
		{ResetRate: 1},
	} {
		clk := gatewaytest.NewClock(time.Unix(1_700_000_000, 0))
		budget := must(breaker.NewBudget(breaker.BudgetConfig{Clock: clk}))
		primary := gatewaytest.MustNewSim("primary", gatewaytest.SimConfig{Faults: faults, Seed: 7})
		backup := gatewaytest.MustNewSim("backup", gatewaytest.SimConfig{})
		rtr, err := router.New("llm", []router.Target{
			{Provider: primary, Weight: 1},
			{Provider: backup, Weight: 1},
		}, router.Config{Budget: budget, Clock: clk})
		require.NoError(t, err)
		retry := must(breaker.Retry(breaker.RetryConfig{Budget: budget, Clock: clk}))
		client := gateway.NewClient(gateway.Chain(rtr, retry), gateway.WithClock(clk))
		for i := range 200 {
			resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json",
				strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			require.Equal(t, 200, resp.StatusCode, "call %d with %+v", i, faults)
			clk.Advance(50 * time.Millisecond) // 20 calls a second
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
