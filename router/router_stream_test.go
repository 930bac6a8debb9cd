package router_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
)

func rtrSDK(rt http.RoundTripper) openai.Client {
	return openai.NewClient(
		option.WithHTTPClient(gateway.NewClient(rt)),
		option.WithBaseURL("http://gateway.invalid/v1"),
		option.WithAPIKey("x"),
		option.WithMaxRetries(0),
	)
}

var rtrStreamParams = openai.ChatCompletionNewParams{
	Model:    "gpt-4.1",
	Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello, router")},
}

// rtrStream reads a whole stream through the SDK and returns its text.
func rtrStream(ctx context.Context, client openai.Client) (string, error) {
	stream := client.Chat.Completions.NewStreaming(ctx, rtrStreamParams)
	defer stream.Close()
	var text strings.Builder
	for stream.Next() {
		if ch := stream.Current().Choices; len(ch) > 0 {
			text.WriteString(ch[0].Delta.Content)
		}
	}
	return text.String(), stream.Err()
}

// rtrCallOf returns a middleware that hands each call's Call to got.
func rtrCallOf(got **gateway.Call) gateway.Middleware {
	return func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			*got = gateway.CallFrom(req.Context())
			return next.RoundTrip(req)
		})
	}
}

// A stream whose first target dies before its first token is served by the
// second, and the caller (the official SDK) sees one clean stream.
func TestRouterStreamFailsOverBeforeFirstToken(t *testing.T) {
	dying := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{Reply: "never seen", Seed: 1, Faults: gatewaytest.Faults{CutRate: 1, CutAfter: 0}})
	good := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{Reply: "the answer from b"})
	r := rtrRouter(t, []router.Target{{Provider: dying, Weight: 1}, {Provider: good, Weight: 1}}, router.Config{})
	var call *gateway.Call

	text, err := rtrStream(t.Context(), rtrSDK(gateway.Chain(r, rtrCallOf(&call))))
	require.NoError(t, err)
	assert.Equal(t, good.ReplyText(0), text)
	assert.Equal(t, int64(1), dying.Requests())

	as := call.Attempts()
	require.Len(t, as, 2)
	assert.Equal(t, "a", as[0].Target)
	assert.Equal(t, "stream_failed_before_content", as[0].Err)
	assert.Zero(t, as[0].TTFT)
	assert.Equal(t, "b", as[1].Target)
	assert.Equal(t, http.StatusOK, as[1].Status)
	assert.Positive(t, as[1].TTFT)
	assert.GreaterOrEqual(t, as[1].TTFT, as[1].Latency, "first token after headers")
}

// A stream that stalls before its first token is moved on after
// FirstTokenTimeout (on the router's clock), in server mode over a socket.
func TestRouterStreamStallFailsOver(t *testing.T) {
	clk := gatewaytest.NewClock(rtrEpoch)
	stalled := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{Clock: clk, Seed: 1, Faults: gatewaytest.Faults{StallRate: 1}})
	good := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{Clock: clk, Reply: "the answer from b"})
	r := rtrRouter(t, []router.Target{{Provider: stalled, Weight: 1}, {Provider: good, Weight: 1}},
		router.Config{Clock: clk, FirstTokenTimeout: 5 * time.Second})
	ended := make(chan *gateway.Call, 1)
	srv := gatewaytest.NewServer(r, gateway.WithObserver(func(c *gateway.Call) { ended <- c }))
	defer srv.Close()
	client := openai.NewClient(option.WithBaseURL(srv.BaseURL()), option.WithAPIKey("x"), option.WithMaxRetries(0))

	done := make(chan struct{})
	var text string
	var err error
	go func() {
		defer close(done)
		text, err = rtrStream(t.Context(), client)
	}()
	clk.BlockUntil(1) // the router waits for a's first token
	clk.Advance(5 * time.Second)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the stalled stream was not moved on")
	}
	require.NoError(t, err)
	assert.Equal(t, good.ReplyText(0), text)
	assert.Equal(t, int64(1), stalled.Requests())
	assert.Equal(t, int64(1), good.Requests())

	var call *gateway.Call
	select {
	case call = <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the call never ended")
	}
	as := call.Attempts()
	require.Len(t, as, 2)
	assert.Equal(t, "a", as[0].Target)
	assert.Equal(t, "upstream_timeout", as[0].Err, "the first-token timeout's code")
	assert.Zero(t, as[0].TTFT)
	assert.Equal(t, "b", as[1].Target)
	assert.Equal(t, http.StatusOK, as[1].Status)
	assert.Empty(t, as[1].Err)
}

// After the first content byte nothing fails over: the caller sees the
// content it got and then an error, never a clean end.
func TestRouterStreamNoFailoverAfterContent(t *testing.T) {
	cut := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{Seed: 1, Faults: gatewaytest.Faults{CutRate: 1, CutAfter: 3}})
	good := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{})
	r := rtrRouter(t, []router.Target{{Provider: cut, Weight: 1}, {Provider: good, Weight: 1}}, router.Config{})

	text, err := rtrStream(t.Context(), rtrSDK(r))
	assert.Error(t, err)
	assert.Equal(t, cut.ReplyText(3), text)
	assert.Zero(t, good.Requests())
}

// In-flight counts are released when a stream's body is closed, so
// least-in-flight keeps sending calls to a target whose streams ended.
func TestRouterReleasesInFlightOnClose(t *testing.T) {
	a := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{})
	b := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{})
	r := rtrRouter(t, []router.Target{{Provider: a, Weight: 1}, {Provider: b, Weight: 1}},
		router.Config{Strategy: router.LeastInFlight, Seed: 3})
	client := gateway.NewClient(r)
	var open []*http.Response
	for range 4 { // held open: in flight
		resp, err := client.Post(rtrChatURL, "application/json", strings.NewReader(rtrStreamBody))
		require.NoError(t, err)
		open = append(open, resp)
	}
	assert.Equal(t, int64(2), a.Requests(), "least in flight alternates while streams are held")
	for _, resp := range open {
		resp.Body.Close()
	}
	for range 20 {
		resp, _, _ := rtrDo(t, r, rtrStreamBody)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	assert.InDelta(t, 12, a.Requests(), 6, "closed streams hold nothing")
}
