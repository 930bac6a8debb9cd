package breaker_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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

// chatRequest returns a request carrying a parsed chat Call, as an entry
// point would send it down a chain.
func chatRequest(t testing.TB, ctx context.Context, stream bool) (*http.Request, *gateway.Call) {
	t.Helper()
	body := `{"model":"m","messages":[{"role":"user","content":"hello"}]}`
	if stream {
		body = `{"model":"m","stream":true,"messages":[{"role":"user","content":"hello"}]}`
	}
	call, err := gateway.ParseCall(gateway.OpChat, []byte(body), gateway.Limits{})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(gateway.WithCall(ctx, call), http.MethodPost,
		"http://gateway.invalid/v1/chat/completions", strings.NewReader(body))
	require.NoError(t, err)
	return req, call
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
