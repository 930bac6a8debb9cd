package gatewaytest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/internal/sse"
)

const simStreamBody = `{"model":"m1","stream":true,"messages":[{"role":"user","content":"Hello there, simulator"}]}`

// simEvents reads every event of a stream until its end or a read error
// (at most maxSimEvents).
func simEvents(t *testing.T, body io.Reader) ([]string, error) {
	t.Helper()
	r := sse.NewReader(body, 0)
	var evs []string
	for range maxSimEvents {
		ev, err := r.Next()
		if err != nil {
			if err == io.EOF {
				return evs, nil
			}
			return evs, err
		}
		evs = append(evs, string(ev.Data))
	}
	return evs, fmt.Errorf("more than %d events", maxSimEvents)
}

// maxSimEvents bounds the events simEvents reads: far more than any stream
// here sends.
const maxSimEvents = 10000

func simChunk(t *testing.T, data string) simCompletion {
	t.Helper()
	var c simCompletion
	require.NoError(t, json.Unmarshal([]byte(data), &c), data)
	return c
}

func TestSimStreamEvents(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 5})
	resp, err := s.RoundTrip(callReq(t, context.Background(), http.MethodPost, "/v1/chat/completions", simStreamBody))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	assert.EqualValues(t, -1, resp.ContentLength)

	evs, err := simEvents(t, resp.Body)
	require.NoError(t, err)
	// role, 5 content events, finish, usage, [DONE]
	require.Len(t, evs, 9)

	first := simChunk(t, evs[0])
	assert.True(t, strings.HasPrefix(first.ID, "chatcmpl-"))
	assert.Equal(t, "chat.completion.chunk", first.Object)
	assert.Equal(t, "m1", first.Model)
	require.Len(t, first.Choices, 1)
	require.NotNil(t, first.Choices[0].Delta.Role)
	assert.Equal(t, "assistant", *first.Choices[0].Delta.Role)
	assert.Nil(t, first.Choices[0].FinishReason)

	var text strings.Builder
	for _, ev := range evs[1:6] {
		c := simChunk(t, ev)
		assert.Equal(t, first.ID, c.ID, "one id per stream")
		require.Len(t, c.Choices, 1)
		require.NotNil(t, c.Choices[0].Delta.Content)
		assert.Nil(t, c.Choices[0].Delta.Role)
		text.WriteString(*c.Choices[0].Delta.Content)
	}
	assert.Equal(t, s.ReplyText(0), text.String())

	fin := simChunk(t, evs[6])
	require.Len(t, fin.Choices, 1)
	assert.Equal(t, "stop", *fin.Choices[0].FinishReason)
	assert.Nil(t, fin.Usage)

	var usage map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(evs[7]), &usage))
	assert.JSONEq(t, `[]`, string(usage["choices"]))
	p := simPrompt(t, "/v1/chat/completions", simStreamBody)
	assert.Equal(t, &simUsage{PromptTokens: p, CompletionTokens: 5, TotalTokens: p + 5}, simChunk(t, evs[7]).Usage)

	assert.Equal(t, "[DONE]", evs[8])
}

func TestSimStreamCompletion(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 3})
	resp, err := s.RoundTrip(callReq(t, context.Background(), http.MethodPost, "/v1/completions", `{"model":"m1","stream":true,"prompt":"x"}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	evs, err := simEvents(t, resp.Body)
	require.NoError(t, err)
	require.Len(t, evs, 6) // 3 content, finish, usage, [DONE]: no role chunk
	var text strings.Builder
	for _, ev := range evs[:3] {
		c := simChunk(t, ev)
		assert.Equal(t, "text_completion", c.Object)
		text.WriteString(*c.Choices[0].Text)
	}
	assert.Equal(t, s.ReplyText(0), text.String())
	assert.Equal(t, "stop", *simChunk(t, evs[3]).Choices[0].FinishReason)
	assert.Equal(t, 3, simChunk(t, evs[4]).Usage.CompletionTokens)
	assert.Equal(t, "[DONE]", evs[5])
}

// Through the client entry point, the usage chunk the caller did not ask for
// is removed and its numbers recorded as the call's usage.
func TestSimStreamUsageRecorded(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 4})
	var got *gateway.Call
	spy := gateway.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
		got = gateway.CallFrom(r.Context())
		return s.RoundTrip(r)
	})
	resp, err := gateway.NewClient(spy).Transport.RoundTrip(simReq(context.Background(), http.MethodPost, "/v1/chat/completions", simStreamBody))
	require.NoError(t, err)
	evs, err := simEvents(t, resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Len(t, evs, 7, "role, 4 content, finish, [DONE]")
	require.NotNil(t, got)
	u, ok := got.Usage()
	require.True(t, ok)
	assert.Equal(t, gateway.Usage{PromptTokens: got.PromptTokens, CompletionTokens: 4}, u)
}

// pacedSim returns a Sim on a fake clock that waits ttft before its first
// content event and 100ms between the next ones.
func pacedSim(clk *gatewaytest.Clock, ttft time.Duration) *gatewaytest.Sim {
	return gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 3, TTFT: ttft, TokensPerSecond: 10, Clock: clk})
}

// simReader reads a stream in a goroutine, one read at a time.
type simReader struct {
	reads chan string
	errs  chan error
}

func readInBackground(body io.Reader) *simReader {
	r := &simReader{reads: make(chan string, 64), errs: make(chan error, 1)}
	go func() {
		p := make([]byte, 64<<10)
		for range cap(r.reads) {
			n, err := body.Read(p)
			if n > 0 {
				r.reads <- string(p[:n])
			}
			if err != nil {
				r.errs <- err
				return
			}
		}
		r.errs <- errors.New("more reads than the test expects")
	}()
	return r
}

func TestSimStreamPacing(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := gatewaytest.NewClock(start)
	s := pacedSim(clk, 500*time.Millisecond)
	resp, err := s.RoundTrip(callReq(t, context.Background(), http.MethodPost, "/v1/chat/completions", simStreamBody))
	require.NoError(t, err)
	defer resp.Body.Close()
	r := readInBackground(resp.Body)

	clk.BlockUntil(1) // waiting for TTFT
	clk.Advance(499 * time.Millisecond)
	assert.Empty(t, r.reads, "nothing before TTFT")
	clk.Advance(time.Millisecond)
	first := <-r.reads
	assert.Equal(t, 2, strings.Count(first, "data: "), "role and first content event together")
	assert.Equal(t, start.Unix(), simChunk(t, strings.TrimPrefix(strings.SplitN(first, "\n", 2)[0], "data: ")).Created)

	clk.BlockUntil(1) // pacing the second token
	clk.Advance(99 * time.Millisecond)
	assert.Empty(t, r.reads)
	clk.Advance(time.Millisecond)
	assert.Equal(t, 1, strings.Count(<-r.reads, "data: "))

	clk.BlockUntil(1)
	clk.Advance(100 * time.Millisecond)
	// the last token, then finish, usage and [DONE] without a wait
	var rest strings.Builder
	for i := 0; i < 8 && !strings.HasSuffix(rest.String(), "data: [DONE]\n\n"); i++ { // 4 events, at most one read each
		rest.WriteString(<-r.reads)
	}
	assert.Equal(t, 4, strings.Count(rest.String(), "data: "))
	assert.Equal(t, io.EOF, <-r.errs)
	assert.Zero(t, clk.Timers())
}

func TestSimLatencyOnClock(t *testing.T) {
	clk := gatewaytest.NewClock(time.Unix(0, 0))
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Latency: time.Second, Clock: clk})
	req := callReq(t, context.Background(), http.MethodPost, "/v1/chat/completions", simChatBody)
	done := make(chan error, 1)
	go func() {
		resp, err := s.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	clk.BlockUntil(1)
	assert.Empty(t, done)
	clk.Advance(time.Second)
	assert.NoError(t, <-done)
}

// RELIABILITY case 39: a blocked read unblocks when its context is cancelled.
func TestSimStreamReadUnblocksOnCancel(t *testing.T) {
	clk := gatewaytest.NewClock(time.Unix(0, 0))
	s := pacedSim(clk, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := s.RoundTrip(callReq(t, ctx, http.MethodPost, "/v1/chat/completions", simStreamBody))
	require.NoError(t, err)
	defer resp.Body.Close()
	r := readInBackground(resp.Body)
	<-r.reads         // role and first token, unpaced
	clk.BlockUntil(1) // the reader is blocked pacing the second
	cancel()
	assert.ErrorIs(t, <-r.errs, context.Canceled)
	assert.Zero(t, clk.Timers(), "the pacing timer is stopped")
}

func TestSimStreamCloseUnblocksRead(t *testing.T) {
	clk := gatewaytest.NewClock(time.Unix(0, 0))
	s := pacedSim(clk, time.Hour)
	resp, err := s.RoundTrip(callReq(t, context.Background(), http.MethodPost, "/v1/chat/completions", simStreamBody))
	require.NoError(t, err)
	r := readInBackground(resp.Body)
	clk.BlockUntil(1)
	require.NoError(t, resp.Body.Close())
	assert.Error(t, <-r.errs)
	assert.Empty(t, r.reads)
}
