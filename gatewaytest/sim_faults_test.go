package gatewaytest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/gatewaytest"
)

func TestSimResetFault(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Faults: gatewaytest.Faults{ResetRate: 1}})
	resp, err := s.RoundTrip(callReq(t, context.Background(), http.MethodPost, "/v1/chat/completions", simChatBody))
	assert.Nil(t, resp)
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.ECONNRESET)
	var ne net.Error
	assert.ErrorAs(t, err, &ne)
	assert.Equal(t, int64(1), s.Requests())
	assert.Equal(t, gatewaytest.FaultCounts{Resets: 1}, s.FaultCounts())
}

func TestSimTimeoutFaultHonoursContext(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Faults: gatewaytest.Faults{TimeoutRate: 1}})
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		resp *http.Response
		err  error
	}
	req := callReq(t, ctx, http.MethodPost, "/v1/chat/completions", simChatBody)
	done := make(chan result, 1)
	go func() {
		resp, err := s.RoundTrip(req)
		done <- result{resp, err}
	}()
	waitFor(t, func() bool { return s.FaultCounts().Timeouts > 0 }) // the call has drawn its hang
	assert.Empty(t, done, "hangs while the context lives")
	cancel()
	r := <-done
	assert.Nil(t, r.resp)
	assert.ErrorIs(t, r.err, context.Canceled)
}

func TestSimErrorFault(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Seed: 7, Faults: gatewaytest.Faults{
		ErrorRate: 1, ErrorStatuses: []int{429, 503, 500}, RetryAfter: 1500 * time.Millisecond,
	}})
	seen := map[int]int{}
	for range 60 {
		resp, b := simDo(t, direct(s), http.MethodPost, "/v1/chat/completions", simChatBody)
		seen[resp.StatusCode]++
		var e simError
		require.NoError(t, json.Unmarshal(b, &e), string(b))
		assert.NotEmpty(t, e.Error.Type)
		assert.NotEmpty(t, e.Error.Code)
		assert.True(t, strings.HasPrefix(e.Error.Message, "gatewaytest: sim"), e.Error.Message)
		switch resp.StatusCode {
		case 429, 503:
			assert.Equal(t, "2", resp.Header.Get("Retry-After"))
			assert.Equal(t, "1500", resp.Header.Get("Retry-After-Ms"))
		default:
			assert.Empty(t, resp.Header.Get("Retry-After"))
		}
		if resp.StatusCode == 429 {
			assert.Equal(t, "rate_limit_exceeded", e.Error.Code)
		}
	}
	assert.Len(t, seen, 3, "every status drawn: %v", seen)
	assert.Equal(t, int64(60), s.FaultCounts().Errors)
}

func TestSimStallFault(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Faults: gatewaytest.Faults{StallRate: 1}})
	// A stall hits streams only.
	resp, _ := simDo(t, direct(s), http.MethodPost, "/v1/chat/completions", simChatBody)
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	ctx, cancel := context.WithCancel(context.Background())
	resp, err := s.RoundTrip(callReq(t, ctx, http.MethodPost, "/v1/chat/completions", simStreamBody))
	require.NoError(t, err, "headers arrive")
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	r := readInBackground(resp.Body)
	cancel()
	assert.ErrorIs(t, <-r.errs, context.Canceled)
	assert.Empty(t, r.reads, "no event before the stall")
	assert.Equal(t, gatewaytest.FaultCounts{Stalls: 1}, s.FaultCounts())
}

func TestSimCutFault(t *testing.T) {
	for _, cutAfter := range []int{0, 3, 100} {
		s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 5, Faults: gatewaytest.Faults{CutRate: 1, CutAfter: cutAfter}})
		resp, err := s.RoundTrip(callReq(t, context.Background(), http.MethodPost, "/v1/chat/completions", simStreamBody))
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
		out := string(b)
		assert.Equal(t, min(cutAfter, 5), strings.Count(out, `"delta":{"content"`), "content events before the cut")
		assert.Equal(t, 1, strings.Count(out, `"role":"assistant"`))
		assert.NotContains(t, out, "[DONE]")
		assert.NotContains(t, out, `"usage"`)
	}
}

// simOutcome classifies one call made with an already-cancelled context: a
// hang returns the context's error at once, while a healthy call still gets
// its response.
func simOutcome(t *testing.T, s *gatewaytest.Sim, ctx context.Context, body string) string {
	resp, err := s.RoundTrip(callReq(t, ctx, http.MethodPost, "/v1/chat/completions", body))
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, context.Canceled):
		return "timeout"
	case err != nil:
		return "other error"
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "error"
	}
	return "ok"
}

func TestSimFaultRates(t *testing.T) {
	const n = 2000
	dead, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name   string
		faults gatewaytest.Faults
		kind   string
		rate   float64
		count  func(gatewaytest.FaultCounts) int64
	}{
		{"error", gatewaytest.Faults{ErrorRate: 0.2}, "error", 0.2, func(c gatewaytest.FaultCounts) int64 { return c.Errors }},
		{"reset", gatewaytest.Faults{ResetRate: 0.05}, "reset", 0.05, func(c gatewaytest.FaultCounts) int64 { return c.Resets }},
		{"timeout", gatewaytest.Faults{TimeoutRate: 0.5}, "timeout", 0.5, func(c gatewaytest.FaultCounts) int64 { return c.Timeouts }},
		{"stall", gatewaytest.Faults{StallRate: 0.3}, "", 0.3, func(c gatewaytest.FaultCounts) int64 { return c.Stalls }},
		{"cut", gatewaytest.Faults{CutRate: 0.1}, "", 0.1, func(c gatewaytest.FaultCounts) int64 { return c.Cuts }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Seed: 42, Faults: tc.faults})
			outcomes := map[string]int{}
			for range n {
				outcomes[simOutcome(t, s, dead, simStreamBody)]++
			}
			got := float64(tc.count(s.FaultCounts())) / n
			// ±4 standard deviations: never flaky, still catches a wrong rate.
			tol := 4 * math.Sqrt(tc.rate*(1-tc.rate)/n)
			assert.InDelta(t, tc.rate, got, tol)
			if tc.kind != "" {
				assert.Equal(t, tc.count(s.FaultCounts()), int64(outcomes[tc.kind]), "%v", outcomes)
				assert.Equal(t, n, outcomes[tc.kind]+outcomes["ok"], "%v", outcomes)
			}
			assert.Equal(t, int64(n), s.Requests())
		})
	}
}

func TestSimSameSeedSameFaults(t *testing.T) {
	dead, cancel := context.WithCancel(context.Background())
	cancel()
	run := func() []string {
		s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Seed: 9, Faults: gatewaytest.Faults{ErrorRate: 0.3, ResetRate: 0.1}})
		var out []string
		for range 200 {
			out = append(out, simOutcome(t, s, dead, simChatBody))
		}
		return out
	}
	assert.Equal(t, run(), run())
}

// Tests kill and revive a provider at run time.
func TestSimSetFaults(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	resp, _ := simDo(t, direct(s), http.MethodPost, "/v1/chat/completions", simChatBody)
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	s.SetFaults(gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{503}})
	assert.Equal(t, []int{503}, s.Faults().ErrorStatuses)
	resp, _ = simDo(t, direct(s), http.MethodPost, "/v1/chat/completions", simChatBody)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)

	s.SetFaults(gatewaytest.Faults{})
	resp, _ = simDo(t, direct(s), http.MethodPost, "/v1/chat/completions", simChatBody)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, int64(3), s.Requests())
}

func TestSimConcurrentUse(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Seed: 3, Faults: gatewaytest.Faults{ErrorRate: 0.1, CutRate: 0.1, CutAfter: 2}})
	const workers, each = 16, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				body := simChatBody
				if (w+i)%2 == 0 {
					body = simStreamBody
				}
				if w == 0 && i == each/2 {
					s.SetFaults(gatewaytest.Faults{ErrorRate: 0.2})
				}
				req, err := bindCall(simReq(context.Background(), http.MethodPost, "/v1/chat/completions", body))
				if !assert.NoError(t, err) {
					return
				}
				resp, err := s.RoundTrip(req)
				if !assert.NoError(t, err) {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(workers*each), s.Requests())
}
