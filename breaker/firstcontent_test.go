package breaker_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
)

// pipeStream returns a stream response fed by the returned writer.
func pipeStream() (*http.Response, *io.PipeWriter) {
	pr, pw := io.Pipe()
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream; charset=utf-8"}}, Body: pr}
	return resp, pw
}

func TestAwaitFirstContentReplaysWhatItRead(t *testing.T) {
	for _, first := range []string{
		contentEvent("Hi"),
		`data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"f","arguments":""}}]}}]}` + "\n\n",
		`data: {"choices":[{"index":0,"delta":{"refusal":"no"}}]}` + "\n\n",
		`data: {"choices":[{"index":0,"delta":{"reasoning_content":"thinking"}}]}` + "\n\n",
		`data: {"choices":[{"index":0,"text":"Hi"}]}` + "\n\n",
		`data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n",
		"data: [DONE]\n\n",
	} {
		stream := ": keep-alive\n\n" + roleEvent + first + contentEvent(" there") + "data: [DONE]\n\n"
		resp := streamResponse(nil, strings.NewReader(stream))
		got, err := breaker.AwaitFirstContent(context.Background(), resp, nil, 0)
		require.NoError(t, err, first)
		b, err := io.ReadAll(got.Body)
		require.NoError(t, err)
		assert.Equal(t, stream, string(b))
		require.NoError(t, got.Body.Close())
		assert.EqualValues(t, 1, resp.Body.(*trackedBody).closes.Load())
	}
}

func TestAwaitFirstContentHoldsBackUntilContent(t *testing.T) {
	resp, pw := pipeStream()
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		r, err := breaker.AwaitFirstContent(context.Background(), resp, nil, 0)
		done <- result{r, err}
	}()
	_, _ = pw.Write([]byte(roleEvent))
	select {
	case <-done:
		t.Fatal("returned before any content")
	case <-time.After(20 * time.Millisecond):
	}
	_, _ = pw.Write([]byte(contentEvent("A")))
	r := <-done
	require.NoError(t, r.err)
	buf := make([]byte, 1024)
	n, err := io.ReadAtLeast(r.resp.Body, buf, len(roleEvent)+len(contentEvent("A")))
	require.NoError(t, err)
	assert.Equal(t, roleEvent+contentEvent("A"), string(buf[:n]))
	go func() { _, _ = pw.Write([]byte(contentEvent("B"))); pw.Close() }() // the rest flows through unbuffered
	rest, err := io.ReadAll(r.resp.Body)
	require.NoError(t, err)
	assert.Equal(t, contentEvent("B"), string(rest))
	r.resp.Body.Close()
}

func TestAwaitFirstContentFailures(t *testing.T) {
	tests := []struct {
		name   string
		stream io.Reader
	}{
		{"ends without content", strings.NewReader(roleEvent)},
		{"cut inside an event", strings.NewReader(roleEvent + `data: {"choices":[{"delta":{"content":"x"`)},
		{"read error", &failingReader{r: strings.NewReader(roleEvent), err: io.ErrUnexpectedEOF}},
		{"error event", strings.NewReader(`data: {"error":{"message":"overloaded","type":"server_error"}}` + "\n\n")},
		{"no content in 1 MiB", strings.NewReader(strings.Repeat(roleEvent, (1<<20)/len(roleEvent)+10))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := streamResponse(nil, tt.stream)
			got, err := breaker.AwaitFirstContent(context.Background(), resp, nil, 0)
			assert.Nil(t, got)
			require.ErrorIs(t, err, breaker.ErrStreamFailed)
			assert.Equal(t, breaker.Retryable, breaker.Classify(nil, nil, err))
			assert.EqualValues(t, 1, resp.Body.(*trackedBody).closes.Load())
		})
	}
}

func TestAwaitFirstContentStallTimesOut(t *testing.T) {
	clk := newClock()
	resp, pw := pipeStream()
	defer pw.Close()
	done := make(chan error, 1)
	go func() {
		_, err := breaker.AwaitFirstContent(context.Background(), resp, clk, 10*time.Second)
		done <- err
	}()
	_, _ = pw.Write([]byte(roleEvent))
	clk.BlockUntil(1)
	clk.Advance(10 * time.Second)
	err := <-done
	require.ErrorIs(t, err, gateway.ErrUpstreamTimeout)
	assert.Equal(t, breaker.Retryable, breaker.Classify(nil, nil, err))
}

// RELIABILITY 39: a blocked SSE read unblocks when its context is
// cancelled.
func TestAwaitFirstContentUnblocksOnCancel(t *testing.T) {
	for _, timeout := range []time.Duration{0, time.Hour} {
		resp, pw := pipeStream()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := breaker.AwaitFirstContent(ctx, resp, newClock(), timeout)
			done <- err
		}()
		_, _ = pw.Write([]byte(roleEvent))
		cancel()
		select {
		case err := <-done:
			assert.ErrorIs(t, err, context.Canceled)
		case <-time.After(5 * time.Second):
			t.Fatal("AwaitFirstContent did not unblock")
		}
		pw.Close()
	}
}

func TestAwaitFirstContentLeavesOtherResponsesAlone(t *testing.T) {
	for _, resp := range []*http.Response{
		respond(nil, 200),
		respond(nil, 500),
		{StatusCode: 429, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: http.NoBody},
	} {
		got, err := breaker.AwaitFirstContent(context.Background(), resp, nil, time.Second)
		require.NoError(t, err)
		assert.Same(t, resp, got)
	}
	got, err := breaker.AwaitFirstContent(context.Background(), nil, nil, 0)
	assert.Nil(t, got)
	assert.NoError(t, err)
}

func TestAwaitFirstContentUsesTheCallWithoutContentType(t *testing.T) {
	req, _ := chatRequest(t, context.Background(), true)
	resp := streamResponse(req, &failingReader{r: strings.NewReader(roleEvent), err: io.ErrUnexpectedEOF})
	resp.Header = http.Header{}
	_, err := breaker.AwaitFirstContent(req.Context(), resp, nil, 0)
	assert.ErrorIs(t, err, breaker.ErrStreamFailed)
}
