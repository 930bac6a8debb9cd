package breaker_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// fakeProvider is a Provider whose answers come from fn; n is the 1-based
// number of the request.
type fakeProvider struct {
	name  string
	calls atomic.Int64
	fn    func(req *http.Request, n int64) (*http.Response, error)
}

var _ gateway.Provider = (*fakeProvider)(nil)

func (f *fakeProvider) Name() string { return f.name }

func (f *fakeProvider) RoundTrip(req *http.Request) (*http.Response, error) {
	n := f.calls.Add(1)
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	return f.fn(req, n)
}

// answering returns a provider answering status to everything.
func answering(name string, status int, header ...string) *fakeProvider {
	return &fakeProvider{name: name, fn: func(req *http.Request, _ int64) (*http.Response, error) {
		return respond(req, status, header...), nil
	}}
}

// statuses returns a provider answering the given statuses in turn, then
// the last one forever.
func statuses(name string, ss ...int) *fakeProvider {
	return &fakeProvider{name: name, fn: func(req *http.Request, n int64) (*http.Response, error) {
		return respond(req, ss[min(int(n), len(ss))-1]), nil
	}}
}

// respond builds a JSON response; header holds key, value pairs.
func respond(req *http.Request, status int, header ...string) *http.Response {
	body := `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`
	if status/100 != 2 {
		body = `{"error":{"message":"upstream says no","type":"api_error","code":"x"}}`
	}
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Header: h,
		Body: &trackedBody{Reader: strings.NewReader(body)}, ContentLength: int64(len(body)), Request: req}
}

// streamResponse returns a 2xx event stream whose body is r.
func streamResponse(req *http.Request, r io.Reader) *http.Response {
	return &http.Response{StatusCode: 200, Status: "OK", Header: http.Header{"Content-Type": {"text/event-stream"}},
		Body: &trackedBody{Reader: r}, ContentLength: -1, Request: req}
}

// contentEvent is one chat chunk carrying text.
func contentEvent(text string) string {
	return `data: {"choices":[{"index":0,"delta":{"content":"` + text + `"}}]}` + "\n\n"
}

const roleEvent = `data: {"choices":[{"index":0,"delta":{"role":"assistant"}}]}` + "\n\n"

// trackedBody counts its closes.
type trackedBody struct {
	io.Reader
	closes atomic.Int32
}

func (b *trackedBody) Close() error { b.closes.Add(1); return nil }

const chatURL = "http://gateway.invalid/v1/chat/completions"

// chatBody is the body of a chat call for model "m", a stream when stream is
// set.
func chatBody(stream bool) string {
	if stream {
		return `{"model":"m","stream":true,"messages":[{"role":"user","content":"hello"}]}`
	}
	return `{"model":"m","messages":[{"role":"user","content":"hello"}]}`
}

// must returns v, or panics on err: for the constructors of configurations
// a test knows to be valid (the Validate tests check the invalid ones).
func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("must: %v", err))
	}
	return v
}

// do sends one chat call for model "m" (a stream when stream is set) through
// the client-mode entry point over rt, as gateway.NewClient(rt, opts...)
// would: rt is put behind an attempt boundary when it is a bare Provider.
// It returns what rt itself returned: its response (whose body the entry
// point taps), or its error, the error response the entry point made of it
// closed. The Call is the one the entry point parsed. do calls no testing.T
// method, so it may run in any goroutine.
func do(ctx context.Context, rt http.RoundTripper, stream bool, opts ...gateway.Option) (*http.Response, *gateway.Call, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, chatURL, strings.NewReader(chatBody(stream)))
	if err != nil {
		return nil, nil, err
	}
	return doRequest(req, rt, opts...)
}

// doRequest is do for any request.
func doRequest(req *http.Request, rt http.RoundTripper, opts ...gateway.Option) (*http.Response, *gateway.Call, error) {
	inner := gateway.Chain(rt) // a boundary in front of a bare Provider, as NewClient puts one
	var call *gateway.Call
	var rtErr error
	top := gateway.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
		call = gateway.CallFrom(r.Context())
		resp, err := inner.RoundTrip(r)
		rtErr = err
		return resp, err
	})
	resp, err := gateway.NewClient(top, opts...).Do(req)
	switch {
	case rtErr != nil:
		if err == nil {
			resp.Body.Close()
		}
		return nil, call, rtErr
	case err != nil:
		return nil, call, err
	}
	return resp, call, nil
}

// send makes one chat call through rt (see do) and closes the response.
func send(t testing.TB, rt http.RoundTripper) (int, error) {
	t.Helper()
	resp, _, err := do(context.Background(), rt, false)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// runAsync runs one chat call through rt (see do) in a goroutine; a failure
// comes back as a response with StatusCode -1 and the error as its Status.
func runAsync(t *testing.T, rt http.RoundTripper, ctx context.Context) <-chan *http.Response {
	t.Helper()
	out := make(chan *http.Response, 1)
	go func() {
		resp, _, err := do(ctx, rt, false)
		if err != nil {
			resp = &http.Response{StatusCode: -1, Status: err.Error(), Body: http.NoBody}
		}
		out <- resp
	}()
	return out
}

// returnsAtOnce runs f and returns its result, failing the test if f waits
// on clk instead (a timer armed on the frozen clock would never fire; the
// clock is then moved a day, to release f, before the test fails).
func returnsAtOnce[T any](t *testing.T, clk *gatewaytest.Clock, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	for i := 0; ; i++ {
		select {
		case v := <-done:
			return v
		default:
		}
		if clk.Timers() > 0 || i == 5000 {
			clk.Advance(24 * time.Hour)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
			}
			t.Fatal("did not return at once (waited on the clock, or blocked)")
		}
		time.Sleep(time.Millisecond)
	}
}

// attemptStatuses returns the statuses of call's attempts, in order.
func attemptStatuses(call *gateway.Call) []int {
	var out []int
	for _, a := range call.Attempts() {
		out = append(out, a.Status)
	}
	return out
}

func newClock() *gatewaytest.Clock { return gatewaytest.NewClock(time.Unix(1_700_000_000, 0)) }

// noJitter makes backoff waits zero, so retries need no clock.
func noJitter() float64 { return 0 }

// eventually polls cond in real time for up to 5 s.
func eventually(t testing.TB, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting: " + msg)
		}
		time.Sleep(time.Millisecond)
	}
}
