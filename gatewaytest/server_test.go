package gatewaytest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/gatewaytest"
)

const chatBody = `{"model":"m1","messages":[{"role":"user","content":"hi"}]}`
const streamBody = `{"model":"m1","stream":true,"messages":[{"role":"user","content":"hi"}]}`

func post(ctx context.Context, s *gatewaytest.Server, client *http.Client, body string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.BaseURL()+"/chat/completions", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer sk-upstream")
	req.Header.Set("Content-Type", "application/json")
	return client.Do(req)
}

func TestServerServesProvider(t *testing.T) {
	s := gatewaytest.NewServer(gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 3}))
	defer s.Close()

	resp, err := post(context.Background(), s, s.Client(), chatBody)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	var c struct {
		Choices []struct{ Message struct{ Content string } } `json:"choices"`
	}
	require.NoError(t, json.Unmarshal(b, &c))
	assert.Equal(t, "This is a", c.Choices[0].Message.Content)

	resp, err = post(context.Background(), s, s.Client(), streamBody)
	require.NoError(t, err)
	b, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	assert.True(t, strings.HasSuffix(string(b), "data: [DONE]\n\n"))
	assert.NotContains(t, string(b), `"usage"`, "the caller asked no usage")

	reqs := s.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, http.MethodPost, reqs[0].Method)
	assert.Equal(t, "/v1/chat/completions", reqs[0].Path)
	assert.Equal(t, "Bearer sk-upstream", reqs[0].Header.Get("Authorization"))
	assert.Equal(t, chatBody, string(reqs[0].Body))
	assert.Empty(t, reqs[0].Fault)
	assert.Equal(t, int64(2), s.Count())

	reqs[0].Header.Set("Authorization", "changed")
	assert.Equal(t, "Bearer sk-upstream", s.Requests()[0].Header.Get("Authorization"), "Requests returns copies")
}

func TestServerRecorderIsBounded(t *testing.T) {
	s := gatewaytest.NewServer(gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{}))
	defer s.Close()
	const n = gatewaytest.MaxRecorded + 44
	for i := range n {
		req, err := http.NewRequest(http.MethodGet, s.BaseURL()+"/models?i="+fmt.Sprint(i), nil)
		require.NoError(t, err)
		resp, err := s.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	reqs := s.Requests()
	require.Len(t, reqs, gatewaytest.MaxRecorded)
	assert.Equal(t, "i=44", reqs[0].Query, "the oldest kept")
	assert.Equal(t, fmt.Sprintf("i=%d", n-1), reqs[len(reqs)-1].Query)
	assert.Equal(t, int64(n), s.Count())

	big := `{"model":"m1","input":"` + strings.Repeat("x", gatewaytest.MaxRecordedBody) + `"}`
	resp, err := s.Client().Post(s.BaseURL()+"/embeddings", "application/json", strings.NewReader(big))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the handler got the whole body")
	last := s.Requests()[gatewaytest.MaxRecorded-1]
	assert.True(t, last.Truncated)
	assert.Len(t, last.Body, gatewaytest.MaxRecordedBody)

	s.Reset()
	assert.Empty(t, s.Requests())
	assert.Equal(t, int64(n+1), s.Count())
}

// A fresh transport per call: a reset on a reused connection can be retried
// by net/http for idempotent requests, which would hide the fault.
func freshClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

func TestServerResetFault(t *testing.T) {
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	s := gatewaytest.NewServer(sim)
	defer s.Close()
	s.SetFaults(gatewaytest.SocketFaults{ResetRate: 1})
	resp, err := post(context.Background(), s, freshClient(), chatBody)
	if resp != nil {
		resp.Body.Close()
	}
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.ECONNRESET)
	assert.Zero(t, sim.Requests(), "reset before the provider was called")
	assert.Equal(t, gatewaytest.FaultReset, s.Requests()[0].Fault)
}

func TestServerResetAfterHeaders(t *testing.T) {
	s := gatewaytest.NewServer(gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 50}))
	defer s.Close()
	s.SetFaults(gatewaytest.SocketFaults{ResetAfterHeaders: 1})
	for _, body := range []string{streamBody, chatBody} {
		resp, err := post(context.Background(), s, freshClient(), body)
		require.NoError(t, err, "status and headers arrive")
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Error(t, err)
		assert.ErrorIs(t, err, syscall.ECONNRESET)
		assert.NotEmpty(t, b, "part of the body arrives before the reset")
		assert.NotContains(t, string(b), "[DONE]")
	}
	assert.Equal(t, gatewaytest.FaultResetAfterHeaders, s.Requests()[0].Fault)
}

func TestServerStallEndsWhenClientGivesUp(t *testing.T) {
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	s := gatewaytest.NewServer(sim)
	defer s.Close()
	s.SetFaults(gatewaytest.SocketFaults{StallRate: 1})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	client := freshClient()
	go func() {
		resp, err := post(ctx, s, client, chatBody)
		if resp != nil {
			resp.Body.Close()
		}
		done <- err
	}()
	waitFor(t, func() bool { return s.Count() == 1 })
	assert.Empty(t, done, "stalled")
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
	assert.Zero(t, sim.Requests())
}

func TestServerCloseReleasesStalls(t *testing.T) {
	// A Sim that hangs too: Close must release the handler blocked in it.
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Faults: gatewaytest.Faults{TimeoutRate: 1}})
	s := gatewaytest.NewServer(sim)
	s.SetFaults(gatewaytest.SocketFaults{StallRate: 0.5, Seed: 3})
	const n = 6
	done := make(chan error, n)
	client := freshClient()
	for range n {
		go func() {
			resp, err := post(context.Background(), s, client, chatBody)
			if resp != nil {
				resp.Body.Close()
			}
			done <- err
		}()
	}
	waitFor(t, func() bool { return s.Count() == n })
	s.Close() // returns only once every handler has
	for range n {
		<-done
	}
	faults := 0
	for _, r := range s.Requests() {
		if r.Fault == gatewaytest.FaultStall {
			faults++
		}
	}
	assert.Equal(t, int64(n-faults), sim.Requests(), "the rest reached the provider")
}

func TestServerSlowHeaders(t *testing.T) {
	s := gatewaytest.NewServer(gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{}))
	defer s.Close()
	const delay = 20 * time.Millisecond
	s.SetFaults(gatewaytest.SocketFaults{SlowHeaders: delay})
	start := time.Now()
	resp, err := post(context.Background(), s, s.Client(), chatBody)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.GreaterOrEqual(t, time.Since(start), delay)

	s.SetFaults(gatewaytest.SocketFaults{SlowHeaders: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		resp, err := post(ctx, s, s.Client(), chatBody)
		if resp != nil {
			resp.Body.Close()
		}
		done <- err
	}()
	waitFor(t, func() bool { return s.Count() == 2 })
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
}

func TestServerFaultRates(t *testing.T) {
	run := func() (resets int, faults []string) {
		s := gatewaytest.NewServer(gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{}))
		defer s.Close()
		s.SetFaults(gatewaytest.SocketFaults{ResetRate: 0.3, Seed: 11})
		client := freshClient()
		for range 200 {
			resp, err := post(context.Background(), s, client, chatBody)
			if err != nil {
				require.ErrorIs(t, err, syscall.ECONNRESET)
				resets++
				continue
			}
			resp.Body.Close()
		}
		for _, r := range s.Requests() {
			faults = append(faults, r.Fault)
		}
		return resets, faults
	}
	resets, faults := run()
	assert.InDelta(t, 60, resets, 26) // 0.3 × 200, ±4 standard deviations
	n := 0
	for _, f := range faults {
		if f == gatewaytest.FaultReset {
			n++
		}
	}
	assert.Equal(t, resets, n)
	_, again := run()
	assert.Equal(t, faults, again, "same seed, same faults")
}

func TestServerSetFaultsErrors(t *testing.T) {
	s := gatewaytest.NewServer(gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{}))
	defer s.Close()
	assert.Error(t, s.SetFaults(gatewaytest.SocketFaults{ResetRate: 2}))
	assert.Error(t, s.SetFaults(gatewaytest.SocketFaults{SlowHeaders: -1}))
	assert.NoError(t, s.SetFaults(gatewaytest.SocketFaults{ResetRate: 0.5}))
	assert.Panics(t, func() { gatewaytest.NewServer(nil) }, "a nil Provider is a programmer's error")
}

// waitFor polls cond, bounded in real time.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}
