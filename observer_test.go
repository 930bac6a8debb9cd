package gateway_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// observed collects what an observer is told, and checks each call is told
// once, with its usage already recorded when it succeeded.
type observed struct {
	t       *testing.T
	mu      sync.Mutex
	calls   []*gateway.Call
	seen    map[*gateway.Call]int
	arrived chan struct{} // one value per observation
}

func newObserved(t *testing.T) *observed {
	return &observed{t: t, seen: map[*gateway.Call]int{}, arrived: make(chan struct{}, 1024)}
}

func (o *observed) observe(c *gateway.Call) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen[c]++
	o.calls = append(o.calls, c)
	o.arrived <- struct{}{}
}

// only is the one call observed since the last only. It waits for it, at
// most 5 s: in server mode a non-stream answer reaches the caller before
// its observers run. A caller that got no response at all (the call was
// observed, then the handler returned) needs no wait, and gets none longer
// than the observation takes.
func (o *observed) only() *gateway.Call {
	o.t.Helper()
	select {
	case <-o.arrived:
	case <-time.After(5 * time.Second):
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	require.Len(o.t, o.calls, 1, "one request, one observation")
	c := o.calls[0]
	assert.Equal(o.t, 1, o.seen[c], "observed exactly once")
	o.calls, o.seen = nil, map[*gateway.Call]int{}
	return c
}

// Every request the entry point receives is observed exactly once, in both
// modes, after its usage is recorded, with its result: a success (stream or
// not), an upstream's error passed through, a failure with no response, a
// stream cut after content, and a request refused before it was parsed.
func TestObserverSeesEveryCallOnceAfterUsage(t *testing.T) {
	type tc struct {
		name, path, body string
		p                gateway.Provider
		status           int
		errIs            error // Result's error; nil for none
		usage            bool  // usage recorded
	}
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 3})
	down := gatewaytest.MustNewSim("down", gatewaytest.SimConfig{Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{503}}})
	reset := gatewaytest.MustNewSim("reset", gatewaytest.SimConfig{Faults: gatewaytest.Faults{ResetRate: 1}})
	cut := gatewaytest.MustNewSim("cut", gatewaytest.SimConfig{Faults: gatewaytest.Faults{CutRate: 1, CutAfter: 2}})
	chat := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	stream := `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	cases := []tc{
		{"chat", "/v1/chat/completions", chat, sim, 200, nil, true},
		{"stream", "/v1/chat/completions", stream, sim, 200, nil, true},
		{"upstream 503", "/v1/chat/completions", chat, down, 503, nil, false},
		{"reset", "/v1/chat/completions", chat, reset, 502, gateway.ErrUpstream, false},
		{"cut stream", "/v1/chat/completions", stream, cut, 200, io.ErrUnexpectedEOF, true},
		{"malformed JSON", "/v1/chat/completions", `{"model":`, sim, 400, gateway.ErrBadRequest, false},
		{"models", "/v1/models", "", sim, 200, nil, false},
	}
	for _, mode := range []string{"client", "server"} {
		for _, c := range cases {
			t.Run(mode+"/"+c.name, func(t *testing.T) {
				o := newObserved(t)
				var usageWhenObserved bool
				// check is told first, so that o.only, which waits for o's
				// observation, sees what check wrote.
				check := gateway.WithObserver(func(call *gateway.Call) { _, usageWhenObserved = call.Usage() })
				opt := gateway.WithObserver(o.observe)
				var resp *http.Response
				var err error
				method, body := http.MethodPost, io.Reader(strings.NewReader(c.body))
				if c.body == "" {
					method, body = http.MethodGet, nil
				}
				if mode == "client" {
					req, _ := http.NewRequest(method, "http://gateway.invalid"+c.path, body)
					resp, err = gateway.NewClient(c.p, check, opt).Do(req)
				} else {
					srv := httptest.NewServer(gateway.NewHandler(c.p, check, opt))
					defer srv.Close()
					req, _ := http.NewRequest(method, srv.URL+c.path, body)
					resp, err = srv.Client().Do(req)
				}
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()

				call := o.only()
				status, cerr := call.Result()
				assert.Equal(t, c.status, status)
				if c.errIs == nil {
					assert.NoError(t, cerr)
				} else {
					assert.True(t, errors.Is(cerr, c.errIs), "Result error %v, want %v", cerr, c.errIs)
				}
				assert.Equal(t, c.usage, usageWhenObserved, "usage recorded before the observers run")
				assert.NotEmpty(t, call.ID)
			})
		}
	}
}

// A caller that leaves mid-stream is observed once, as a 499.
func TestObserverSeesACallerThatLeftAs499(t *testing.T) {
	o := newObserved(t)
	slow := gatewaytest.MustNewSim("slow", gatewaytest.SimConfig{TokensPerSecond: 5, CompletionTokens: 50})
	srv := httptest.NewServer(gateway.NewHandler(slow, gateway.WithObserver(o.observe)))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","stream":true,"messages":[]}`))
	require.NoError(t, err)
	buf := make([]byte, 64)
	_, err = resp.Body.Read(buf) // content started
	require.NoError(t, err)
	resp.Body.Close() // and the caller leaves
	srv.Close()       // waits for the handler to return
	call := o.only()
	status, cerr := call.Result()
	assert.Equal(t, 499, status)
	assert.ErrorIs(t, cerr, gateway.ErrClientClosed)
	u, ok := call.Usage()
	require.True(t, ok)
	assert.True(t, u.Estimated, "what was delivered is estimated")
}
