package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/internal/hooks"
)

// endProbe is a middleware that registers an OnEnd callback for every call
// and records what the call looked like when it was told.
type endProbe struct {
	told     atomic.Int32
	usageSet atomic.Bool
	attempts atomic.Int32
	beforeOb atomic.Bool // told before the observer
	observed atomic.Bool
}

func (p *endProbe) mw(next http.RoundTripper) http.RoundTripper {
	return RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		c := CallFrom(req.Context())
		hooks.OnEnd(c, func() {
			p.told.Add(1)
			_, ok := c.Usage()
			p.usageSet.Store(ok)
			p.attempts.Store(int32(len(c.Attempts())))
			p.beforeOb.Store(!p.observed.Load())
		})
		return next.RoundTrip(req)
	})
}

type stubProvider struct {
	fn func(*http.Request) (*http.Response, error)
}

func (s stubProvider) Name() string                                      { return "stub" }
func (s stubProvider) RoundTrip(r *http.Request) (*http.Response, error) { return s.fn(r) }

// A middleware's OnEnd callback is told once per call, when the call ends
// (body closed or read to its end, or a failure), with its usage and
// attempts final, just before the observers.
func TestOnEndToldOnceWhenTheCallEnds(t *testing.T) {
	ok := stubProvider{func(r *http.Request) (*http.Response, error) {
		closeRequestBody(r)
		body := `{"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	}}
	fail := stubProvider{func(r *http.Request) (*http.Response, error) {
		closeRequestBody(r)
		return nil, errors.New("reset")
	}}
	for _, tc := range []struct {
		name     string
		p        Provider
		usage    bool
		attempts int32
	}{{"success", ok, true, 1}, {"failure", fail, false, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			probe := &endProbe{}
			client := NewClient(Chain(tc.p, probe.mw), WithObserver(func(*Call) { probe.observed.Store(true) }))
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://gw/v1/chat/completions",
				strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
			require.NoError(t, err)
			resp, err := client.Do(req)
			require.NoError(t, err) // in client mode a failure is an error response
			if tc.usage {
				assert.Equal(t, int32(0), probe.told.Load(), "not before the body ends")
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			assert.Equal(t, int32(1), probe.told.Load())
			assert.Equal(t, tc.usage, probe.usageSet.Load())
			assert.Equal(t, tc.attempts, probe.attempts.Load())
			assert.True(t, probe.beforeOb.Load(), "told before the observers")
			assert.True(t, probe.observed.Load())
		})
	}
}

// A callback registered on a call that has ended already runs at once.
func TestOnEndAfterTheEndRunsAtOnce(t *testing.T) {
	c := &Call{}
	c.end(200, nil)
	n := 0
	c.onEnd(func() { n++ })
	assert.Equal(t, 1, n)
}
