package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// shutdownServer serves h with a base context the test cancels, with a
// cause, as a server's shutdown does when its grace period ends.
func shutdownServer(t *testing.T, h http.Handler) (*httptest.Server, context.CancelCauseFunc) {
	base, cancel := context.WithCancelCause(context.Background())
	srv := httptest.NewUnstartedServer(h)
	srv.Config.BaseContext = func(net.Listener) context.Context { return base }
	srv.Start()
	t.Cleanup(func() { cancel(nil); srv.Close() })
	return srv, cancel
}

const shutdownEvent = `data: {"error":{"message":"gateway: the server is shutting down","type":"service_unavailable","param":null,"code":"server_shutting_down"}}` + "\n\n"

// A stream the server cuts at the end of its shutdown ends with a terminal
// error event, as a stream cut upstream does, and no [DONE]; the call's
// result says why. The Sim paces its tokens on a fake clock that never
// moves, so the stream is in flight, after its first token, until the cut.
func TestHandlerEndsStreamCutByShutdownWithErrorEvent(t *testing.T) {
	clk := gatewaytest.NewClock(time.Unix(0, 0))
	sim := gatewaytest.MustNewSim("slow", gatewaytest.SimConfig{TokensPerSecond: 1, Clock: clk})
	o := newObserved(t)
	srv, shutdown := shutdownServer(t, gateway.NewHandler(sim, gateway.WithObserver(o.observe)))

	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","stream":true,"messages":[]}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	r := bufio.NewReader(resp.Body)
	for range 2 { // the role chunk and the first token
		ev, err := readEvent(r)
		require.NoError(t, err)
		require.Contains(t, ev, `"delta"`)
	}
	shutdown(gateway.ErrShuttingDown)
	rest, err := io.ReadAll(r)
	require.NoError(t, err, "the stream ends cleanly, with its error event")
	assert.Equal(t, shutdownEvent, string(rest))

	srv.Close() // waits for the handler
	status, cerr := o.only().Result()
	assert.Equal(t, 200, status, "the caller was answered 200, then told in the stream")
	assert.ErrorIs(t, cerr, gateway.ErrShuttingDown)
}

// A call the server cuts before anything was sent (a stream held for its
// first token, a non-stream call waiting for its answer) gets the cause as
// an OpenAI-style error; a caller who left gets nothing and is a 499.
func TestHandlerAnswersCallCutByShutdownBeforeItsAnswer(t *testing.T) {
	stalled := gatewaytest.MustNewSim("stalled", gatewaytest.SimConfig{Faults: gatewaytest.Faults{StallRate: 1}})
	hung := gatewaytest.MustNewSim("hung", gatewaytest.SimConfig{Faults: gatewaytest.Faults{TimeoutRate: 1}})
	for _, tc := range []struct {
		name string
		p    gateway.Provider
		body string
	}{
		{"held stream", stalled, `{"model":"m","stream":true,"messages":[]}`},
		{"non-stream", hung, `{"model":"m","messages":[]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newObserved(t)
			srv, shutdown := shutdownServer(t, gateway.NewHandler(tc.p, gateway.WithObserver(o.observe)))
			go func() { waitForRequests(tc.p.(*gatewaytest.Sim), 1); shutdown(gateway.ErrShuttingDown) }()
			resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(tc.body))
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
			var body struct {
				Error struct{ Code string } `json:"error"`
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			assert.Equal(t, "server_shutting_down", body.Error.Code)
			assert.True(t, errors.Is(gateway.ErrorFromResponse(resp), gateway.ErrShuttingDown))

			srv.Close()
			status, cerr := o.only().Result()
			assert.Equal(t, http.StatusServiceUnavailable, status)
			assert.ErrorIs(t, cerr, gateway.ErrShuttingDown)
		})
	}
}

// waitForRequests waits, a bounded number of times, until sim has received
// n requests.
func waitForRequests(sim *gatewaytest.Sim, n int64) {
	for range 10000 {
		if sim.Requests() >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// readEvent reads one SSE event (up to its blank line).
func readEvent(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return b.String(), err
		}
		if line == "\n" {
			return b.String(), nil
		}
	}
}

// In client mode the context is the caller's own: cancelled, with a cause or
// without, it is the caller leaving (499).
func TestClientCallCancelledWithACauseIs499(t *testing.T) {
	hung := gatewaytest.MustNewSim("hung", gatewaytest.SimConfig{Faults: gatewaytest.Faults{TimeoutRate: 1}})
	o := newObserved(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://gateway.invalid/v1/chat/completions", strings.NewReader(`{"model":"m"}`))
	go func() { waitForRequests(hung, 1); cancel(errors.New("the caller's own reason")) }()
	_, err := gateway.NewClient(hung, gateway.WithObserver(o.observe)).Do(req)
	require.Error(t, err)
	status, cerr := o.only().Result()
	assert.Equal(t, 499, status)
	assert.ErrorIs(t, cerr, gateway.ErrClientClosed)
}
