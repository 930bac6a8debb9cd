package breaker_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
)

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

// RELIABILITY 8: a stream that fails before its first content byte is
// retried silently; the caller reads one clean stream. The hold is the
// attempt boundary's, under Retry (gateway.Chain puts it there): the stream
// reaches Retry as a failed round trip.
func TestRetryStreamFailingBeforeContentIsRetried(t *testing.T) {
	var bodies []*trackedBody
	p := &fakeProvider{name: "a", fn: func(req *http.Request, n int64) (*http.Response, error) {
		var r io.Reader = strings.NewReader(roleEvent + contentEvent("Hello") + contentEvent(" world") + "data: [DONE]\n\n")
		if n == 1 {
			r = &failingReader{r: strings.NewReader(roleEvent), err: io.ErrUnexpectedEOF}
		}
		resp := streamResponse(req, r)
		bodies = append(bodies, resp.Body.(*trackedBody))
		return resp, nil
	}}
	rt := gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: newClock()})))
	resp, call, err := do(context.Background(), rt, true)
	require.NoError(t, err)
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, roleEvent+contentEvent("Hello")+contentEvent(" world")+"data: [DONE]\n\n", string(got))
	assert.EqualValues(t, 2, p.calls.Load())
	assert.EqualValues(t, 1, bodies[0].closes.Load(), "the failed stream is closed")
	attempts := call.Attempts()
	require.Len(t, attempts, 2)
	assert.Equal(t, "stream_failed_before_content", attempts[0].Err)
	assert.Zero(t, attempts[0].Status, "nothing was passed on")
	assert.Equal(t, 200, attempts[1].Status)
	assert.Empty(t, attempts[1].Err)
	target, _ := call.Served()
	assert.Equal(t, "a", target)
}

// RELIABILITY 9: after the first content byte nothing is retried; the
// failure reaches the caller as a read error, never a fake [DONE].
func TestRetryStreamFailingAfterContentIsNotRetried(t *testing.T) {
	p := &fakeProvider{name: "a", fn: func(req *http.Request, _ int64) (*http.Response, error) {
		return streamResponse(req, &failingReader{r: strings.NewReader(roleEvent + contentEvent("Hello")), err: io.ErrUnexpectedEOF}), nil
	}}
	rt := gateway.Chain(p, must(breaker.Retry(breaker.RetryConfig{Rand: noJitter, Clock: newClock()})))
	resp, call, err := do(context.Background(), rt, true)
	require.NoError(t, err)
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, roleEvent+contentEvent("Hello"), string(got))
	assert.NotContains(t, string(got), "[DONE]")
	assert.EqualValues(t, 1, p.calls.Load())
	assert.Equal(t, []int{200}, attemptStatuses(call))
}
