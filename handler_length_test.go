package gateway_test

// Large non-stream answers (over the handler's 32 KiB copy buffer) with the
// Content-Length their upstream declared: every way their reads can end, a
// caller who leaves, and answers that break their length.

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

// serveLarge runs one POST through a handler over p and returns the
// client's response, the body it read, its read error and the observed call.
func serveLarge(t *testing.T, p gateway.Provider, method string, client *http.Client) (*http.Response, []byte, error, *gateway.Call) {
	t.Helper()
	o := newObserved(t)
	srv := httptest.NewServer(gateway.NewHandler(p, gateway.WithObserver(o.observe)))
	srv.Config.ErrorLog = quietLog()
	defer srv.Close()
	if client == nil {
		client = srv.Client()
	}
	path, body := "/v1/chat/completions", `{"model":"m"}`
	if method != http.MethodPost {
		path, body = "/v1/models", ""
	}
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	got, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, got, rerr, o.only()
}

// an answer of exactly the copy buffer's size whose upstream declared
// that very length: the first buffer does not contradict it, yet it goes
// chunked (fill stops at a full buffer without seeing EOF, and the check is
// length > n).
func TestHandlerAnswerOfExactlyTheBufferKeepsItsLength(t *testing.T) {
	answer := `{"id":"c1","x":"` + strings.Repeat("a", 32<<10-18) + `"}`
	require.Equal(t, 32<<10, len(answer))
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		resp := respond(req, 200, "application/json", io.NopCloser(strings.NewReader(answer)))
		resp.ContentLength = int64(len(answer))
		return resp, nil
	}}
	resp, got, err, c := serveLarge(t, p, http.MethodPost, nil)
	require.NoError(t, err)
	assert.True(t, answer == string(got), "the whole answer")
	_, cerr := c.Result()
	assert.NoError(t, cerr)
	assert.Equal(t, int64(len(answer)), resp.ContentLength, "declared 32768, got 32768: not contradicted")
	assert.Empty(t, resp.TransferEncoding, "not chunked")
}

// HEAD of a large model list with its length: the length is sent, the
// call ends as the 200 it is.
func TestHandlerHeadOfALargeModelListKeepsItsLength(t *testing.T) {
	list := `{"object":"list","data":[` + strings.Repeat(`{"id":"m","object":"model"},`, 4000) + `{"id":"z","object":"model"}]}`
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		resp := respond(req, 200, "application/json", io.NopCloser(strings.NewReader(list)))
		resp.ContentLength = int64(len(list))
		return resp, nil
	}}
	resp, got, err, c := serveLarge(t, p, http.MethodHead, nil)
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.Equal(t, int64(len(list)), resp.ContentLength)
	status, cerr := c.Result()
	assert.Equal(t, 200, status)
	assert.NoError(t, cerr)
}

// data returned together with io.EOF (and one byte a read), at the
// declared length: complete.
func TestHandlerLargeAnswerIsCompleteHoweverItsReadsEnd(t *testing.T) {
	answer := `{"id":"c1","x":"` + strings.Repeat("a", 100<<10) + `"}`
	for name, mk := range map[string]func() io.Reader{
		"data with EOF": func() io.Reader { return iotest.DataErrReader(strings.NewReader(answer)) },
		"one byte":      func() io.Reader { return iotest.OneByteReader(strings.NewReader(answer)) },
		"half":          func() io.Reader { return iotest.HalfReader(strings.NewReader(answer)) },
	} {
		t.Run(name, func(t *testing.T) {
			p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
				resp := respond(req, 200, "application/json", io.NopCloser(mk()))
				resp.ContentLength = int64(len(answer))
				return resp, nil
			}}
			resp, got, err, c := serveLarge(t, p, http.MethodPost, nil)
			require.NoError(t, err)
			assert.True(t, answer == string(got), "the whole answer")
			assert.Equal(t, int64(len(answer)), resp.ContentLength)
			_, cerr := c.Result()
			assert.NoError(t, cerr)
		})
	}
}

// blockingTail returns head, then blocks until ctx ends and returns its
// error, or, with eofAfter, returns io.EOF that long after head if ctx has
// not ended first.
type blockingTail struct {
	head     io.Reader
	ctx      context.Context
	eofAfter time.Duration
}

func (b *blockingTail) Read(p []byte) (int, error) {
	if n, err := b.head.Read(p); err != io.EOF {
		return n, err
	}
	var late <-chan time.Time
	if b.eofAfter > 0 {
		late = time.After(b.eofAfter)
	}
	select {
	case <-b.ctx.Done():
		return 0, b.ctx.Err()
	case <-late:
		return 0, io.EOF
	}
}

// a caller who leaves mid-copy of an answer with a declared length is a
// 499, not the upstream's failure.
func TestHandlerCallerLeavingALargeAnswerWithALengthIs499(t *testing.T) {
	const declared = 200 << 10
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		body := &blockingTail{head: strings.NewReader("[" + strings.Repeat("a", 64<<10-1)), ctx: req.Context()}
		resp := respond(req, 200, "application/json", io.NopCloser(body))
		resp.ContentLength = declared
		return resp, nil
	}}
	o := newObserved(t)
	srv := httptest.NewServer(gateway.NewHandler(p, gateway.WithObserver(o.observe)))
	srv.Config.ErrorLog = quietLog()
	defer srv.Close()
	resp, err := srv.Client().Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m"}`))
	require.NoError(t, err)
	assert.Equal(t, int64(declared), resp.ContentLength)
	_, _ = io.ReadFull(resp.Body, make([]byte, 1000))
	resp.Body.Close() // leaves mid-body: the connection is closed
	status, cerr := o.only().Result()
	assert.Equal(t, 499, status)
	assert.ErrorIs(t, cerr, gateway.ErrClientClosed)
}

// every declared byte sent, the upstream's EOF late; the caller, who has
// its whole answer (Content-Length satisfied), closes its connection. The
// call is recorded as a caller who left first (499), though the caller got
// the whole answer (compare a stream after [DONE], tap.complete()). The
// handler holds the declared length's last byte until the upstream's end,
// so the caller cannot have its whole answer before it; the 100 ms only
// makes the end late, no assertion depends on it.
func TestHandlerCallerNeverHasALargeAnswerBeforeTheUpstreamEnds(t *testing.T) {
	answer := `{"id":"c1","x":"` + strings.Repeat("a", 4*(32<<10)-18) + `"}`
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		body := &blockingTail{head: strings.NewReader(answer), ctx: req.Context(), eofAfter: 100 * time.Millisecond}
		resp := respond(req, 200, "application/json", io.NopCloser(body))
		resp.ContentLength = int64(len(answer))
		return resp, nil
	}}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, got, err, c := serveLarge(t, p, http.MethodPost, client)
	require.NoError(t, err, "the caller has its whole answer")
	assert.True(t, answer == string(got), "the whole answer")
	assert.Equal(t, int64(len(answer)), resp.ContentLength)
	status, cerr := c.Result()
	assert.Equal(t, 200, status, "the caller got the whole answer")
	assert.NoError(t, cerr)
}

// an answer that runs past its declared length, the excess found only
// at a read boundary after every declared byte was written: the abort comes
// too late, the caller's client sees a complete (truncated) body.
func TestHandlerAnswerRunningPastItsLengthAfterItsLastByteIsCut(t *testing.T) {
	const declared = 2 * (32 << 10)
	answer := `{"id":"c1","x":"` + strings.Repeat("a", 100<<10) + `"}`
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		resp := respond(req, 200, "application/json", io.NopCloser(strings.NewReader(answer)))
		resp.ContentLength = declared
		return resp, nil
	}}
	resp, got, err, c := serveLarge(t, p, http.MethodPost, nil)
	assert.Equal(t, int64(declared), resp.ContentLength)
	_, cerr := c.Result()
	assert.ErrorIs(t, cerr, gateway.ErrUpstream, "the call is failed")
	assert.Error(t, err, "a body that ran past its length must not look complete (got %d bytes)", len(got))
}

// a large answer with its length whose last read is small (it stays in
// the response's buffers) reaches the caller before the observers run: only
// the flush at its end sends it. TestHandlerDeliversANonStreamAnswerBeforeItsObservers'
// large case has a last read over the buffers' size, so it passes without
// that flush.
func TestHandlerLargeAnswerWithASmallTailIsFlushedAtItsEnd(t *testing.T) {
	answer := `{"id":"c1","x":"` + strings.Repeat("a", 3*(32<<10)+100) + `"}`
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		resp := respond(req, 200, "application/json", io.NopCloser(strings.NewReader(answer)))
		resp.ContentLength = int64(len(answer))
		return resp, nil
	}}
	delivered := make(chan struct{})
	sawDelivered := make(chan bool, 1)
	srv := httptest.NewServer(gateway.NewHandler(p, gateway.WithObserver(func(*gateway.Call) {
		select {
		case <-delivered:
			sawDelivered <- true
		case <-time.After(2 * time.Second):
			sawDelivered <- false
		}
	})))
	defer srv.Close()
	resp, err := srv.Client().Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m"}`))
	require.NoError(t, err)
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	close(delivered)
	resp.Body.Close()
	assert.Equal(t, len(answer), len(got))
	assert.True(t, <-sawDelivered, "the caller had its answer before the observers")
}

// An answer larger than the handler's buffer is sent with the length its
// upstream declared, and the bytes are held to it: a body that ends before
// it (a provider that rewrote a body and kept its length) or runs past it
// aborts the response, and the call ends as the upstream's failure, never
// as a complete answer or as a caller who left. A length the first buffer
// already contradicts is not sent: the answer goes chunked, whole.
func TestHandlerHoldsALargeAnswerToItsDeclaredLength(t *testing.T) {
	const size = 100 << 10
	answer := `{"id":"c1","x":"` + strings.Repeat("a", size) + `"}`
	for _, tc := range []struct {
		name     string
		declared int64
		complete bool // the caller gets the whole answer
	}{
		{"shorter than declared", 2 * size, false},
		{"longer than declared", 40 << 10, false},
		{"contradicted by the first buffer", 16 << 10, true},
		{"as declared", int64(len(answer)), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
				resp := respond(req, 200, "application/json", io.NopCloser(strings.NewReader(answer)))
				resp.ContentLength = tc.declared
				return resp, nil
			}}
			resp, got, err, c := serveLarge(t, p, http.MethodPost, nil)
			assert.Equal(t, 200, resp.StatusCode)
			status, cerr := c.Result()
			assert.Equal(t, 200, status)
			if tc.complete {
				require.NoError(t, err)
				assert.Equal(t, answer, string(got))
				assert.NoError(t, cerr)
				return
			}
			assert.Error(t, err, "an answer that breaks its length must not look complete")
			assert.Equal(t, tc.declared, resp.ContentLength, "the caller was promised the declared length")
			require.ErrorIs(t, cerr, gateway.ErrUpstream, "the upstream's failure, not the caller's leaving")
			assert.Contains(t, cerr.Error(), strconv.FormatInt(tc.declared, 10), "the message names the declared length")
		})
	}
}
