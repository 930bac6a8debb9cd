package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/internal/sse"
)

const (
	holdRole = `data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}` + "\n\n"
)

func holdContent(s string) string {
	return `data: {"choices":[{"index":0,"delta":{"content":"` + s + `"}}]}` + "\n\n"
}

// countedBody counts its Closes.
type countedBody struct {
	io.Reader
	closes atomic.Int64
}

func (b *countedBody) Close() error { b.closes.Add(1); return nil }

func streamOf(r io.Reader) (*http.Response, *countedBody) {
	b := &countedBody{Reader: r}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream; charset=utf-8"}}, Body: b}, b
}

// The one content detector, as a table: the root's chunk inspector and the
// breaker's used to disagree on reasoning deltas, finish_reason-only chunks
// and tool calls whose first delta carries no argument text.
func TestInspectChunkContent(t *testing.T) {
	tests := []struct {
		name    string
		chunk   string
		content bool
		isError bool
	}{
		{"role only", `{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`, false, false},
		{"text delta", `{"choices":[{"index":0,"delta":{"content":"Hi"}}]}`, true, false},
		{"refusal", `{"choices":[{"index":0,"delta":{"refusal":"no"}}]}`, true, false},
		{"reasoning_content", `{"choices":[{"index":0,"delta":{"reasoning_content":"thinking"}}]}`, true, false},
		{"reasoning", `{"choices":[{"index":0,"delta":{"reasoning":"thinking"}}]}`, true, false},
		{"tool call without arguments", `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"f","arguments":""}}]}}]}`, true, false},
		{"legacy function_call", `{"choices":[{"index":0,"delta":{"function_call":{"name":"f"}}}]}`, true, false},
		{"empty tool_calls", `{"choices":[{"index":0,"delta":{"tool_calls":[]}}]}`, false, false},
		{"null tool_calls", `{"choices":[{"index":0,"delta":{"tool_calls":null}}]}`, false, false},
		{"finish_reason only", `{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`, true, false},
		{"empty finish_reason", `{"choices":[{"index":0,"delta":{},"finish_reason":""}]}`, false, false},
		{"completion text", `{"choices":[{"index":0,"text":"Hi"}]}`, true, false},
		{"usage only", `{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}`, false, false},
		{"logprobs are not content", `{"choices":[{"index":0,"delta":{"content":""},"logprobs":{"content":[{"token":"x"}]}}]}`, false, false},
		{"error event", `{"error":{"message":"overloaded","type":"server_error"}}`, false, true},
		{"null error", `{"error":null,"choices":[{"index":0,"delta":{"content":"Hi"}}]}`, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, ok := inspectChunk([]byte(tt.chunk))
			require.True(t, ok)
			assert.Equal(t, tt.content, info.content, "content")
			assert.Equal(t, tt.isError, info.isError, "error")
		})
	}
	_, ok := inspectChunk([]byte(`not json`))
	assert.False(t, ok)
}

func TestHoldReplaysWhatItRead(t *testing.T) {
	for _, first := range []string{
		holdContent("Hi"),
		`data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"f","arguments":""}}]}}]}` + "\n\n",
		`data: {"choices":[{"index":0,"delta":{"refusal":"no"}}]}` + "\n\n",
		`data: {"choices":[{"index":0,"delta":{"reasoning_content":"thinking"}}]}` + "\n\n",
		`data: {"choices":[{"index":0,"text":"Hi"}]}` + "\n\n",
		`data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n",
		"data: [DONE]\n\n",
	} {
		stream := ": keep-alive\n\n" + holdRole + first + holdContent(" there") + "data: [DONE]\n\n"
		resp, body := streamOf(strings.NewReader(stream))
		got, err := holdFirstContent(context.Background(), resp)
		require.NoError(t, err, first)
		b, err := io.ReadAll(got.Body)
		require.NoError(t, err)
		assert.Equal(t, stream, string(b))
		require.NoError(t, got.Body.Close())
		assert.EqualValues(t, 1, body.closes.Load())
	}
}

func TestHoldReleasesAtTheFirstContentAndPassesTheRestUnbuffered(t *testing.T) {
	pr, pw := io.Pipe()
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: pr}
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		r, err := holdFirstContent(context.Background(), resp)
		done <- result{r, err}
	}()
	_, _ = pw.Write([]byte(holdRole)) // a pipe write returns once read: the hold read it and went on
	_, _ = pw.Write([]byte(holdContent("A")))
	r := <-done
	require.NoError(t, r.err)
	buf := make([]byte, 1024)
	n, err := io.ReadAtLeast(r.resp.Body, buf, len(holdRole)+len(holdContent("A")))
	require.NoError(t, err)
	assert.Equal(t, holdRole+holdContent("A"), string(buf[:n]))
	go func() { _, _ = pw.Write([]byte(holdContent("B"))); pw.Close() }()
	rest, err := io.ReadAll(r.resp.Body)
	require.NoError(t, err)
	assert.Equal(t, holdContent("B"), string(rest))
	r.resp.Body.Close()
}

type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestHoldFailures(t *testing.T) {
	tests := []struct {
		name   string
		stream io.Reader
	}{
		{"ends without content", strings.NewReader(holdRole)},
		{"cut inside an event", strings.NewReader(holdRole + `data: {"choices":[{"delta":{"content":"x"`)},
		{"read error", &failingReader{r: strings.NewReader(holdRole), err: io.ErrUnexpectedEOF}},
		{"error event", strings.NewReader(`data: {"error":{"message":"overloaded","type":"server_error"}}` + "\n\n")},
		{"no content in 1 MiB", strings.NewReader(strings.Repeat(holdRole, maxHeldBytes/len(holdRole)+10))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := streamOf(tt.stream)
			got, err := holdFirstContent(context.Background(), resp)
			assert.Nil(t, got)
			require.ErrorIs(t, err, ErrUpstream)
			assert.Equal(t, "stream_failed_before_content", ErrorFor(err).Code)
			assert.Equal(t, 502, ErrorFor(err).Status)
			assert.EqualValues(t, 1, body.closes.Load())
		})
	}
}

// RELIABILITY 39: a blocked SSE read unblocks when its context is
// cancelled (a caller leaving, a timeout cancelling the attempt).
func TestHoldUnblocksOnCancel(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: pr}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := holdFirstContent(ctx, resp)
		done <- err
	}()
	_, _ = pw.Write([]byte(holdRole))
	cancel()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("the hold did not unblock")
	}
}

func TestIsEventStreamType(t *testing.T) {
	for ct, want := range map[string]bool{
		"text/event-stream":                 true,
		" Text/Event-Stream; charset=utf-8": true,
		"":                                  true, // asked to a streaming call
		"application/json":                  false,
		"text/plain; charset=utf-8":         false,
	} {
		assert.Equal(t, want, isEventStreamType(ct), "%q", ct)
	}
}

// referenceHold is the hold as it was written over internal/sse.Reader:
// whether a stream's bytes end the hold (nil), fail it (an error), or run
// out first, read in pieces of split bytes.
func referenceHold(stream []byte, split int) (held int, err error) {
	r := &splitReader{b: stream, n: split}
	var rec []byte
	rr := readerFunc(func(p []byte) (int, error) {
		n, err := r.Read(p)
		rec = append(rec, p[:n]...)
		if err == nil && len(rec) > maxHeldBytes {
			err = errors.New("over")
		}
		return n, err
	})
	sr := sse.NewReader(rr, 0)
	for {
		ev, err := sr.Next()
		if err != nil {
			return len(rec), err
		}
		if done, err := firstContent(ev.Data); done || err != nil {
			return len(rec), err
		}
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// splitReader returns b at most n bytes a read, then io.EOF.
type splitReader struct {
	b []byte
	n int
}

func (r *splitReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b[:min(len(r.b), r.n)])
	r.b = r.b[n:]
	return n, nil
}

// The hold's own event scan decides as internal/sse.Reader's events did,
// however the stream is split: the same streams end the hold, the same
// fail it, and a stream that ends the hold is replayed whole.
func FuzzHoldAgreesWithSSEReader(f *testing.F) {
	for _, s := range []string{
		holdRole + holdContent("hi"),
		": comment\n\nevent: x\ndata: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\n\r\n",
		"data: {\"choices\":\ndata: [{\"delta\":{\"content\":\"split\"}}]}\n\n",
		"data:[DONE]\n\n", "data: [DONE]", "data: {\"error\":{\"message\":\"x\"}}\n\n", "data\n\n", "\n\n\n", holdRole,
	} {
		f.Add([]byte(s), 3)
		f.Add([]byte(s), 1000)
	}
	f.Fuzz(func(t *testing.T, stream []byte, split int) {
		if split <= 0 {
			split = 1
		}
		_, want := referenceHold(stream, split)
		resp, _ := streamOf(&splitReader{b: stream, n: split})
		got, err := holdFirstContent(context.Background(), resp)
		if (want == nil) != (err == nil) || (want != nil && !errors.Is(err, ErrUpstream)) {
			t.Fatalf("hold: %v, reference: %v", err, want)
		}
		if err == nil {
			b, rerr := io.ReadAll(got.Body)
			if rerr != nil || !bytes.Equal(b, stream) {
				t.Fatalf("replayed %q (%v), want the whole stream %q", b, rerr, stream)
			}
		}
	})
}
