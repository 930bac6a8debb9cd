package router_test

import (
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
)

// On the system clock, the first-token timeout of a streaming attempt is a
// timer, not a goroutine: while the provider answers a stream, no goroutine
// runs router code but the caller's.
func TestFirstTokenTimeoutStartsNoGoroutine(t *testing.T) {
	var others []string
	p := named{"p", gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		others = goroutinesIn("github.com/llmgate/gateway/router.", "router_test.")
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
			Body:    io.NopCloser(strings.NewReader("data: {\"choices\":[{\"delta\":{\"content\":\"ok\"}}]}\n\ndata: [DONE]\n\n")),
			Request: req}, nil
	})}
	r := rtrRouter(t, []router.Target{{Provider: p, Weight: 1}}, router.Config{})
	resp, err := gateway.NewClient(r).Post(rtrChatURL, "application/json", strings.NewReader(rtrStreamBody))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Empty(t, others, "goroutines of package router while the provider answers a stream, besides the caller's")
}

// named is a RoundTripper with a name: a Provider.
type named struct {
	name string
	gateway.RoundTripperFunc
}

func (n named) Name() string { return n.name }

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

// With NoFirstTokenTimeout the router sets no first-token bound of its
// own (the targets' middlewares bound it, as breaker.Timeouts does): a
// stream whose first content comes long after the default is not moved
// on, and the router registers no deadline for it. A negative value other
// than NoFirstTokenTimeout is still a mistake (TestNewRouterRejectsBadConfig).
func TestNoFirstTokenTimeoutLeavesTheBoundToTheTarget(t *testing.T) {
	clk := gatewaytest.NewClock(rtrEpoch)
	p := named{"p", gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		late, _ := clk.NewTimer(2 * breaker.DefaultFirstTokenTimeout)
		<-late // thinking, far past the default first-token timeout
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
			Body:    io.NopCloser(strings.NewReader("data: {\"choices\":[{\"delta\":{\"content\":\"ok\"}}]}\n\ndata: [DONE]\n\n")),
			Request: req}, nil
	})}
	r := rtrRouter(t, []router.Target{{Provider: p, Weight: 1}}, router.Config{Clock: clk, FirstTokenTimeout: router.NoFirstTokenTimeout})
	go func() {
		clk.BlockUntil(1) // the provider's wait alone: the router set no deadline
		clk.Advance(2 * breaker.DefaultFirstTokenTimeout)
	}()
	resp, err := gateway.NewClient(r).Post(rtrChatURL, "application/json", strings.NewReader(rtrStreamBody))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, string(b), `"ok"`)
}
