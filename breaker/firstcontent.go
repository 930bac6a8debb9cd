package breaker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/llmgate/gateway"
)

// maxHeldBytes bounds what AwaitFirstContent holds back before the first
// content event; a stream that sends more without content fails.
const maxHeldBytes = 1 << 20

// AwaitFirstContent holds back a 2xx event stream until its first content
// event, so that a stream which fails before it can be retried, or moved to
// another target, with nothing sent to the caller.
//
// For a text/event-stream 2xx response (or a 2xx response with no content
// type to a streaming Call) it reads events until one carries content: a
// choice with a non-empty delta.content, delta.refusal, delta.tool_calls,
// reasoning text or completion text, or a finish_reason, or the [DONE]
// event (a stream that ends cleanly is the model's answer, even an empty
// one). It then returns a response whose Body replays the bytes consumed and
// continues with the rest of the upstream body, with no further buffering;
// closing it closes the upstream body.
//
// If the stream ends or breaks before that, reports an error event, sends
// more than 1 MiB without content, or no content arrives within timeout (0
// means no limit; the time is read from clk, nil meaning the system clock),
// it closes the body and returns an error that Classify calls Retryable:
// ErrStreamFailed wrapping the cause, or gateway.ErrUpstreamTimeout for the
// stall. If ctx ends first it closes the body and returns ctx.Err(), which
// Classify calls Canceled when ctx is the caller's.
//
// Any other response is returned unchanged. A nil resp with a nil error is
// a caller bug; AwaitFirstContent returns it as it is. While it waits it runs
// one goroutine only when timeout > 0; none is left when it returns.
func AwaitFirstContent(ctx context.Context, resp *http.Response, clk gateway.Clock, timeout time.Duration) (*http.Response, error) {
	if resp == nil || !isEventStream(ctx, resp) {
		return resp, nil
	}
	w := &firstContent{body: resp.Body}
	stop := w.watch(ctx, clk, timeout)
	ok, err := w.scan()
	stop()
	if cause := w.cut(); cause != nil { // the watcher closed the body (or is about to)
		ok, err = false, cause
	}
	if !ok {
		resp.Body.Close()
		return nil, err
	}
	out := *resp
	out.Body = &replayBody{held: w.rec.Bytes(), body: resp.Body}
	return &out, nil
}

// isEventStream reports whether resp is a 2xx event stream.
func isEventStream(ctx context.Context, resp *http.Response) bool {
	if resp.StatusCode/100 != 2 || resp.Body == nil || resp.Body == http.NoBody {
		return false
	}
	ct := resp.Header.Get("Content-Type")
	if ct == "" {
		c := gateway.CallFrom(ctx)
		return c != nil && c.Stream
	}
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "text/event-stream")
}

// firstContent is one wait for a stream's first content event.
type firstContent struct {
	body io.ReadCloser
	rec  bytes.Buffer // every byte read from body so far

	mu     sync.Mutex
	done   bool  // scan finished: the watcher must not close the body
	reason error // why the watcher closed the body
}

// Read reads body into p and records what it read.
func (w *firstContent) Read(p []byte) (int, error) {
	n, err := w.body.Read(p)
	w.rec.Write(p[:n])
	if err == nil && w.rec.Len() > maxHeldBytes {
		err = errors.New("breaker: over 1 MiB of stream without content")
	}
	return n, err
}

// watch closes the body when ctx ends or timeout passes, whichever is first,
// unless the scan has finished. The returned stop must be called once the
// scan has finished; it returns when the watch has ended.
func (w *firstContent) watch(ctx context.Context, clk gateway.Clock, timeout time.Duration) (stop func()) {
	if timeout <= 0 {
		// A callback that runs after finish finds done set and leaves the body.
		unregister := context.AfterFunc(ctx, func() { w.close(ctx.Err()) })
		return func() {
			w.finish()
			unregister()
		}
	}
	t := gateway.ClockOrSystem(clk).NewTimer(timeout)
	quit, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case <-t.C():
			w.close(gateway.ErrUpstreamTimeout.WithMessage("breaker: no stream content within " + timeout.String()))
		case <-ctx.Done():
			t.Stop()
			w.close(ctx.Err())
		case <-quit:
			t.Stop()
		}
	}()
	return func() {
		w.finish()
		close(quit)
		<-exited
	}
}

// finish marks the scan as over so that a late watcher leaves the body open.
func (w *firstContent) finish() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// close is the watcher's action: close the body to unblock the scan.
func (w *firstContent) close(reason error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	w.done, w.reason = true, reason
	w.body.Close()
}

// cut returns why the watcher closed the body, or nil.
func (w *firstContent) cut() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reason
}

// scan reads events until the first content event (true) or a failure.
func (w *firstContent) scan() (bool, error) {
	r := gateway.NewSSEReader(w, 0)
	for {
		ev, err := r.Next()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF // ended without [DONE] or a finish_reason
			}
			return false, ErrStreamFailed.WithCause(err)
		}
		if ev.IsDone() {
			return true, nil
		}
		switch inspect(ev.Data) {
		case eventContent:
			return true, nil
		case eventError:
			return false, ErrStreamFailed.WithCause(errors.New("breaker: upstream sent an error event"))
		}
	}
}

type eventKind uint8

const (
	eventEmpty eventKind = iota
	eventContent
	eventError
)

// chunk is the part of a streamed chat or completion chunk that shows
// whether it carries content.
type chunk struct {
	Error   json.RawMessage `json:"error"`
	Choices []struct {
		Text         string  `json:"text"`
		FinishReason *string `json:"finish_reason"`
		Delta        struct {
			Content          string          `json:"content"`
			Refusal          string          `json:"refusal"`
			ReasoningContent string          `json:"reasoning_content"`
			Reasoning        string          `json:"reasoning"`
			ToolCalls        json.RawMessage `json:"tool_calls"`
			FunctionCall     json.RawMessage `json:"function_call"`
		} `json:"delta"`
	} `json:"choices"`
}

// inspect classifies one event's data. An event that is not JSON carries no
// content; it is forwarded with the rest.
func inspect(data []byte) eventKind {
	var c chunk
	if json.Unmarshal(data, &c) != nil {
		return eventEmpty
	}
	if len(c.Error) > 0 && !bytes.Equal(c.Error, []byte("null")) {
		return eventError
	}
	for _, ch := range c.Choices {
		d := &ch.Delta
		if ch.Text != "" || d.Content != "" || d.Refusal != "" || d.ReasoningContent != "" || d.Reasoning != "" ||
			nonEmptyJSON(d.ToolCalls) || nonEmptyJSON(d.FunctionCall) || (ch.FinishReason != nil && *ch.FinishReason != "") {
			return eventContent
		}
	}
	return eventEmpty
}

func nonEmptyJSON(m json.RawMessage) bool {
	s := string(bytes.TrimSpace(m))
	return s != "" && s != "null" && s != "[]" && s != "{}"
}

// replayBody returns the bytes held back, then the rest of the upstream
// body. Close closes the upstream body. It is not safe for concurrent Reads,
// as no body is, but Close may be called concurrently with Read.
type replayBody struct {
	held []byte
	body io.ReadCloser
}

func (b *replayBody) Read(p []byte) (int, error) {
	if len(b.held) > 0 {
		n := copy(p, b.held)
		b.held = b.held[n:]
		return n, nil
	}
	return b.body.Read(p)
}

func (b *replayBody) Close() error { return b.body.Close() }
