package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

// closeTracker records whether a request body was closed.
type closeTracker struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeTracker) Close() error { c.closed.Store(true); return nil }

func newRequest(t *testing.T, body string) (*http.Request, *closeTracker) {
	t.Helper()
	tr := &closeTracker{Reader: strings.NewReader(body)}
	req, err := http.NewRequest("POST", "https://api.openai.com/v1/chat/completions", tr)
	require.NoError(t, err)
	req.ContentLength = int64(len(body))
	req.Header.Set("Authorization", "Bearer caller")
	return req, tr
}

// Invariant 1: the caller's request is not modified, its body is closed, and
// a response and an error never come together.
func TestTransportKeepsTheRoundTripperContract(t *testing.T) {
	p := okProvider()
	tr := newTransport(p)
	req, body := newRequest(t, `{"model":"m","messages":[]}`)
	before := req.Clone(context.Background())
	ctx := req.Context()

	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	require.NotNil(t, resp)
	require.NotNil(t, resp.Body)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())

	assert.True(t, body.closed.Load(), "request body closed")
	assert.Equal(t, before.URL.String(), req.URL.String())
	assert.Equal(t, before.Header, req.Header)
	assert.Same(t, body, req.Body, "the caller's request keeps its own body")
	assert.Equal(t, ctx, req.Context())
	assert.Nil(t, gateway.CallFrom(req.Context()))

	sent, call, got := p.seen()
	assert.NotSame(t, req, sent, "the chain receives a copy")
	assert.Equal(t, `{"model":"m","messages":[]}`, got)
	require.NotNil(t, sent.GetBody, "replayable before any retry")
	again, err := sent.GetBody()
	require.NoError(t, err)
	b, _ := io.ReadAll(again)
	assert.Equal(t, got, string(b))
	assert.Equal(t, "m", call.Model)
}

func TestTransportNeverReturnsBoth(t *testing.T) {
	broken := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		return jsonReply(req, 200, chatReply), io.ErrUnexpectedEOF // breaks the contract
	}}
	req, _ := newRequest(t, `{"model":"m"}`)
	resp, err := newTransport(broken).RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, 502, resp.StatusCode, "the error wins; the stray response is closed")
}

func TestTransportReturnsRefusalsAsResponses(t *testing.T) {
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		return nil, gateway.ErrNoHealthyProvider.WithRetryAfter(2 * time.Second)
	}}
	req, _ := newRequest(t, `{"model":"m"}`)
	resp, err := newTransport(p).RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, 503, resp.StatusCode)
	assert.Equal(t, "2", resp.Header.Get("Retry-After"))
	var e errorJSON
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	assert.Equal(t, "no_healthy_provider", e.Error.Code)
	assert.ErrorIs(t, gateway.ErrorFromResponse(resp), gateway.ErrNoHealthyProvider)
}

func TestTransportRefusesBadInputWithoutDispatch(t *testing.T) {
	p := okProvider()
	tr := newTransport(p, gateway.WithLimits(gateway.Limits{MaxBodyBytes: 64}))
	for body, status := range map[string]int{
		`{"model":`:       400,
		`{"messages":[]}`: 400,
		`{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("x", 100) + `"}]}`: 413,
	} {
		req, rb := newRequest(t, body)
		resp, err := tr.RoundTrip(req)
		require.NoError(t, err)
		assert.Equal(t, status, resp.StatusCode, body)
		assert.True(t, rb.closed.Load())
		resp.Body.Close()
	}
	assert.Zero(t, p.calls.Load())
}

func TestTransportReturnsTheCallersOwnCancellation(t *testing.T) {
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		<-req.Context().Done()
		return nil, req.Context().Err()
	}}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := newRequest(t, `{"model":"m"}`)
	req = req.WithContext(ctx)
	time.AfterFunc(10*time.Millisecond, cancel)
	resp, err := newTransport(p).RoundTrip(req)
	assert.Nil(t, resp)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestTransportCarriesCallerAndPassesNestedCallsThrough(t *testing.T) {
	p := okProvider()
	inner := newTransport(p)
	outer := newTransport(inner)
	req, _ := newRequest(t, `{"model":"m"}`)
	req = req.WithContext(gateway.WithCaller(req.Context(), gateway.Caller{KeyID: "team-a", Tenant: "acme"}))
	resp, err := outer.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	_, call, _ := p.seen()
	assert.Equal(t, "team-a", call.Caller.KeyID)
	assert.Len(t, call.Attempts(), 1, "one Call, one attempt, however many entry points")
}

func TestChainOrder(t *testing.T) {
	var order []string
	mw := func(name string) gateway.Middleware {
		return func(next http.RoundTripper) http.RoundTripper {
			return gateway.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
				order = append(order, name)
				return next.RoundTrip(r)
			})
		}
	}
	rt := gateway.Chain(okProvider(), mw("outer"), nil, mw("inner"))
	resp, err := newTransport(rt).RoundTrip(httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(`{"model":"m"}`)))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, []string{"outer", "inner"}, order)

	// Chain puts a Provider behind one attempt boundary, however often it
	// is chained, and keeps its name.
	p := okProvider()
	once := gateway.Chain(p)
	assert.Same(t, once, gateway.Chain(once))
	named, ok := once.(gateway.Provider)
	require.True(t, ok)
	assert.Equal(t, "fake", named.Name())
}

// A RoundTripper that is not a Provider gets no boundary: nothing to name
// an attempt after.
func TestChainLeavesPlainRoundTrippersAlone(t *testing.T) {
	rt := gateway.RoundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, nil })
	_, ok := gateway.Chain(rt).(gateway.Provider)
	assert.False(t, ok)
}

// A refusal that reached no provider (a router with nothing to try) is not
// an attempt: billing makes one record per attempt that reached a provider.
// A Dispatcher gets no boundary; a Provider that answers, even with a
// refusal of its own, made an attempt.
func TestEntryRecordsNoAttemptForARefusalThatReachedNoProvider(t *testing.T) {
	for _, refusal := range []error{gateway.ErrNoHealthyProvider, gateway.ErrModelNotFound} {
		p := &fakeDispatcher{fakeProvider{handle: func(req *http.Request) (*http.Response, error) { return nil, refusal }}}
		req, _ := newRequest(t, `{"model":"m"}`)
		resp, err := newTransport(p).RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		_, call, _ := p.seen()
		assert.Empty(t, call.Attempts(), refusal.Error())

		bare := &fakeProvider{handle: p.handle}
		req, _ = newRequest(t, `{"model":"m"}`)
		resp, err = newTransport(bare).RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		_, call, _ = bare.seen()
		require.Len(t, call.Attempts(), 1)
		assert.Equal(t, gateway.ErrorFor(refusal).Code, call.Attempts()[0].Err)
	}
}

// fakeDispatcher is a fakeProvider that says it forwards to Providers of its
// own, as a router does.
type fakeDispatcher struct{ fakeProvider }

func (*fakeDispatcher) Targets() []string { return nil }

// newTransport is the client-mode entry point's RoundTripper.
func newTransport(rt http.RoundTripper, opts ...gateway.Option) http.RoundTripper {
	return gateway.NewClient(rt, opts...).Transport
}
