package gateway_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/internal/hooks"
)

// endHookMiddleware registers a hooks.OnEnd function and a header on every
// call, and refuses the call with refuse when it is set.
func endHookMiddleware(log *[]string, mu *sync.Mutex, refuse error) gateway.Middleware {
	return func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			c := gateway.CallFrom(req.Context())
			hooks.SetHeader(c, "x-test-limit", "7")
			hooks.OnEnd(c, func() {
				_, usageSet := c.Usage()
				status, _ := c.Result()
				mu.Lock()
				*log = append(*log, "end")
				if usageSet {
					*log = append(*log, "usage")
				}
				if status != 0 {
					*log = append(*log, "result")
				}
				mu.Unlock()
			})
			if refuse != nil {
				req.Body.Close()
				return nil, refuse
			}
			return next.RoundTrip(req)
		})
	}
}

// A middleware's end hook runs exactly once per call, after the usage and
// the result are final and before the observers, whether the call succeeded
// (stream or not) or was refused; and its headers reach the caller with the
// response or the refusal, in both modes.
func TestCallEndHookRunsOnceBeforeObserversAndHeadersReachTheCaller(t *testing.T) {
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 3})
	refusal := gateway.ErrNoHealthyProvider.WithMessage("test: refused")
	cases := []struct {
		name, body string
		refuse     error
		status     int
		want       []string
	}{
		{"chat", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, nil, 200, []string{"end", "usage", "result", "observer"}},
		{"stream", `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`, nil, 200, []string{"end", "usage", "result", "observer"}},
		{"refused", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, refusal, 503, []string{"end", "result", "observer"}},
	}
	for _, mode := range []string{"client", "server"} {
		for _, tc := range cases {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				var mu sync.Mutex
				var log []string
				obs := gateway.WithObserver(func(*gateway.Call) {
					mu.Lock()
					log = append(log, "observer")
					mu.Unlock()
				})
				rt := gateway.Chain(sim, endHookMiddleware(&log, &mu, tc.refuse))
				var resp *http.Response
				if mode == "client" {
					req, err := http.NewRequestWithContext(context.Background(), http.MethodPost,
						"http://gw.invalid/v1/chat/completions", strings.NewReader(tc.body))
					require.NoError(t, err)
					resp, err = gateway.NewClient(rt, obs).Do(req)
					require.NoError(t, err)
				} else {
					rec := httptest.NewRecorder()
					gateway.NewHandler(rt, obs).ServeHTTP(rec,
						httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(tc.body)))
					resp = rec.Result()
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				assert.Equal(t, tc.status, resp.StatusCode)
				assert.Equal(t, "7", resp.Header.Get("X-Test-Limit"), "the call's header reaches the caller")
				mu.Lock()
				defer mu.Unlock()
				assert.Equal(t, tc.want, log)
			})
		}
	}
}

// An end hook registered after the call has ended runs at once.
func TestCallEndHookAfterTheEndRunsAtOnce(t *testing.T) {
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	var got *gateway.Call
	resp, err := gateway.NewClient(sim, gateway.WithObserver(func(c *gateway.Call) { got = c })).
		Post("http://gw.invalid/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.NotNil(t, got)
	ran := 0
	hooks.OnEnd(got, func() { ran++ })
	assert.Equal(t, 1, ran)
}
