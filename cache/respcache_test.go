package cache

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// calls keeps the Calls an entry point's observer saw.
type calls struct {
	mu sync.Mutex
	cs []*gateway.Call
}

func (o *calls) observe(c *gateway.Call) { o.mu.Lock(); o.cs = append(o.cs, c); o.mu.Unlock() }

func (o *calls) all() []*gateway.Call {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*gateway.Call(nil), o.cs...)
}

// upstreamSeen counts what reaches the provider, below the response cache.
type upstreamSeen struct {
	n       atomic.Int64
	headers atomic.Pointer[http.Header]
}

func (u *upstreamSeen) middleware(next http.RoundTripper) http.RoundTripper {
	return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		u.n.Add(1)
		h := req.Header.Clone()
		u.headers.Store(&h)
		return next.RoundTrip(req)
	})
}

type respFixture struct {
	rc     *ResponseCache
	sim    *gatewaytest.Sim
	seen   *upstreamSeen
	obs    *calls
	client openai.Client
	rt     http.RoundTripper
}

func newRespFixture(t *testing.T, cfg ResponseConfig, sim gatewaytest.SimConfig) *respFixture {
	t.Helper()
	rc, err := NewResponseCache(cfg)
	require.NoError(t, err)
	f := &respFixture{rc: rc, sim: gatewaytest.MustNewSim("sim", sim), seen: &upstreamSeen{}, obs: &calls{}}
	f.rt = gateway.Chain(f.sim, rc.Middleware(), f.seen.middleware)
	f.client = openai.NewClient(option.WithHTTPClient(gateway.NewClient(f.rt, gateway.WithObserver(f.obs.observe))),
		option.WithBaseURL("http://gateway.invalid/v1"), option.WithAPIKey("k"), option.WithMaxRetries(0))
	return f
}

func chat(temperature *float64, text string) openai.ChatCompletionNewParams {
	p := openai.ChatCompletionNewParams{
		Model:     "gpt-4o-mini",
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)},
		MaxTokens: openai.Int(8),
	}
	if temperature != nil {
		p.Temperature = openai.Float(*temperature)
	}
	return p
}

var zero = new(float64)

func TestResponseCacheHitServesTheKeptAnswerWithoutAnAttempt(t *testing.T) {
	f := newRespFixture(t, ResponseConfig{}, gatewaytest.SimConfig{})
	ctx := context.Background()
	var first, second *http.Response
	a, err := f.client.Chat.Completions.New(ctx, chat(zero, "hi"), option.WithResponseInto(&first))
	require.NoError(t, err)
	b, err := f.client.Chat.Completions.New(ctx, chat(zero, "hi"), option.WithResponseInto(&second))
	require.NoError(t, err)

	assert.EqualValues(t, 1, f.seen.n.Load(), "one upstream call")
	assert.Equal(t, a.Choices[0].Message.Content, b.Choices[0].Message.Content)
	assert.Equal(t, a.ID, b.ID, "the same answer")
	assert.Equal(t, ResultMiss, first.Header.Get(HeaderCacheStatus))
	assert.Equal(t, ResultHit, second.Header.Get(HeaderCacheStatus))

	cs := f.obs.all()
	require.Len(t, cs, 2)
	assert.Equal(t, ResultMiss, cs[0].CacheResult())
	assert.Len(t, cs[0].Attempts(), 1)
	assert.Equal(t, ResultHit, cs[1].CacheResult())
	assert.Empty(t, cs[1].Attempts(), "a hit reached no provider")
	target, _ := cs[1].Served()
	assert.Empty(t, target)
	u0, _ := cs[0].Usage()
	u1, ok := cs[1].Usage()
	require.True(t, ok)
	assert.Equal(t, u0, u1, "a hit's usage is what the kept answer reports")
}

func TestResponseCacheKeepsOnlyCacheableCalls(t *testing.T) {
	f := newRespFixture(t, ResponseConfig{}, gatewaytest.SimConfig{})
	ctx := context.Background()
	one := 1.0
	for range 2 {
		_, err := f.client.Chat.Completions.New(ctx, chat(nil, "no temperature"))
		require.NoError(t, err)
		_, err = f.client.Chat.Completions.New(ctx, chat(&one, "temperature 1"))
		require.NoError(t, err)
	}
	assert.EqualValues(t, 4, f.seen.n.Load(), "neither is kept")

	var resp *http.Response
	for range 2 {
		_, err := f.client.Chat.Completions.New(ctx, chat(&one, "forced"), option.WithHeader(HeaderCache, "on"), option.WithResponseInto(&resp))
		require.NoError(t, err)
	}
	assert.EqualValues(t, 5, f.seen.n.Load(), "X-Llmgate-Cache: on keeps it")
	assert.Equal(t, ResultHit, resp.Header.Get(HeaderCacheStatus))
	assert.Empty(t, f.seen.headers.Load().Get(HeaderCache), "the header never goes upstream")

	for range 2 {
		_, err := f.client.Chat.Completions.New(ctx, chat(zero, "refused"), option.WithHeader(HeaderCache, "off"), option.WithResponseInto(&resp))
		require.NoError(t, err)
	}
	assert.EqualValues(t, 7, f.seen.n.Load(), "X-Llmgate-Cache: off keeps nothing")
	assert.Empty(t, resp.Header.Get(HeaderCacheStatus))
	assert.Empty(t, f.seen.headers.Load().Get(HeaderCache))
	assert.Empty(t, f.obs.all()[6].CacheResult())
}

func TestResponseCacheNeverServesOneTenantAnother(t *testing.T) {
	f := newRespFixture(t, ResponseConfig{}, gatewaytest.SimConfig{})
	var status []string
	for _, tenant := range []string{"a", "b", "a", "b"} {
		ctx := gateway.WithCaller(context.Background(), gateway.Caller{KeyID: "key-" + tenant, Tenant: tenant})
		var resp *http.Response
		_, err := f.client.Chat.Completions.New(ctx, chat(zero, "same question"), option.WithResponseInto(&resp))
		require.NoError(t, err)
		status = append(status, resp.Header.Get(HeaderCacheStatus))
	}
	assert.Equal(t, []string{ResultMiss, ResultMiss, ResultHit, ResultHit}, status)
	assert.EqualValues(t, 2, f.seen.n.Load())
}

func streamText(t *testing.T, s interface {
	Next() bool
	Current() openai.ChatCompletionChunk
	Err() error
	Close() error
}) (string, int) {
	t.Helper()
	var b strings.Builder
	events := 0
	for s.Next() {
		events++
		if ch := s.Current(); len(ch.Choices) > 0 {
			b.WriteString(ch.Choices[0].Delta.Content)
		}
	}
	require.NoError(t, s.Err())
	require.NoError(t, s.Close())
	return b.String(), events
}

func TestResponseCacheReplaysAStreamAsAStream(t *testing.T) {
	f := newRespFixture(t, ResponseConfig{}, gatewaytest.SimConfig{})
	ctx := context.Background()
	var first, second *http.Response
	text1, n1 := streamText(t, f.client.Chat.Completions.NewStreaming(ctx, chat(zero, "stream me"), option.WithResponseInto(&first)))
	// The answer is kept when its flight ends, which may be just after the
	// caller read [DONE]; a call made before that would share the flight.
	require.Eventually(t, func() bool { return f.rc.Stats().Flights == 0 }, 10*time.Second, time.Millisecond)
	text2, n2 := streamText(t, f.client.Chat.Completions.NewStreaming(ctx, chat(zero, "stream me"), option.WithResponseInto(&second)))
	assert.EqualValues(t, 1, f.seen.n.Load())
	assert.Equal(t, ResultHit, second.Header.Get(HeaderCacheStatus))
	assert.Equal(t, "text/event-stream", strings.Split(second.Header.Get("Content-Type"), ";")[0])
	assert.NotEmpty(t, text1)
	assert.Equal(t, text1, text2)
	assert.Greater(t, n2, 2, "the replay is a stream of events")
	assert.Equal(t, n1, n2)

	// A non-stream call with the same messages is another answer.
	_, err := f.client.Chat.Completions.New(ctx, chat(zero, "stream me"))
	require.NoError(t, err)
	assert.EqualValues(t, 2, f.seen.n.Load())
}

func TestResponseCacheKeepsNoCutStream(t *testing.T) {
	f := newRespFixture(t, ResponseConfig{}, gatewaytest.SimConfig{Faults: gatewaytest.Faults{CutRate: 1, CutAfter: 2}})
	ctx := context.Background()
	for range 2 {
		s := f.client.Chat.Completions.NewStreaming(ctx, chat(zero, "cut"))
		for s.Next() {
		}
		assert.Error(t, s.Err())
		s.Close()
	}
	assert.EqualValues(t, 2, f.seen.n.Load(), "a cut stream is not kept")
	assert.Zero(t, f.rc.Stats().Answers)
}

func TestResponseCacheBoundsAndTTL(t *testing.T) {
	clk := gatewaytest.NewClock(epoch)
	f := newRespFixture(t, ResponseConfig{TTL: time.Minute, MaxAnswerBytes: 1 << 10, MaxBytes: 2 << 10, Clock: clk},
		gatewaytest.SimConfig{})
	ctx := context.Background()
	for i := range 20 {
		_, err := f.client.Chat.Completions.New(ctx, chat(zero, strings.Repeat("x", i+1)))
		require.NoError(t, err)
	}
	s := f.rc.Stats()
	assert.LessOrEqual(t, s.Bytes, int64(2<<10))
	assert.Positive(t, s.Answers)
	assert.Less(t, s.Answers, 20, "the oldest went to stay within MaxBytes")

	before := f.seen.n.Load()
	_, err := f.client.Chat.Completions.New(ctx, chat(zero, strings.Repeat("x", 20)))
	require.NoError(t, err)
	assert.Equal(t, before, f.seen.n.Load(), "the newest is kept")
	clk.Advance(2 * time.Minute)
	_, err = f.client.Chat.Completions.New(ctx, chat(zero, strings.Repeat("x", 20)))
	require.NoError(t, err)
	assert.Equal(t, before+1, f.seen.n.Load(), "an expired answer is not served")

	big := newRespFixture(t, ResponseConfig{MaxAnswerBytes: 64}, gatewaytest.SimConfig{})
	for range 2 {
		_, err := big.client.Chat.Completions.New(ctx, chat(zero, "too big to keep"))
		require.NoError(t, err)
	}
	assert.EqualValues(t, 2, big.seen.n.Load(), "an answer over MaxAnswerBytes is not kept")
	assert.Zero(t, big.rc.Stats().Answers)
}

func TestResponseCacheUpstreamErrorIsNotKept(t *testing.T) {
	f := newRespFixture(t, ResponseConfig{}, gatewaytest.SimConfig{Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{500}}})
	for range 2 {
		_, err := f.client.Chat.Completions.New(context.Background(), chat(zero, "fails"))
		require.Error(t, err)
	}
	assert.EqualValues(t, 2, f.seen.n.Load())
	assert.Zero(t, f.rc.Stats().Answers)
	assert.Zero(t, f.rc.Stats().Flights)
}

func TestResponseConfigValidate(t *testing.T) {
	err := ResponseConfig{TTL: -1, MaxBytes: 10, MaxAnswerBytes: 20, MaxAnswers: -1}.Validate()
	for _, field := range []string{"TTL", "MaxAnswerBytes", "MaxAnswers"} {
		assert.ErrorContains(t, err, field)
	}
	assert.NoError(t, ResponseConfig{}.Validate())
}

var _ io.Closer = (*replayBody)(nil)

func TestKeptHeaderDropsWhatHeldOnlyWhenTheAnswerWasMade(t *testing.T) {
	h := http.Header{"Content-Type": {"application/json"}, "Content-Length": {"12"}, "X-Ratelimit-Remaining-Requests": {"3"},
		"Retry-After": {"1"}, "Set-Cookie": {"a=b"}, "Openai-Model": {"gpt"}}
	assert.Equal(t, http.Header{"Content-Type": {"application/json"}, "Openai-Model": {"gpt"}}, keptHeader(h))
}

// In server mode the handler passes X-Llmgate-Cache to the chain (it
// passes only the headers it lists), and the status back with
// WithResponseHeaders.
func TestResponseCacheHeaderWorksInServerMode(t *testing.T) {
	rc, err := NewResponseCache(ResponseConfig{})
	require.NoError(t, err)
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	srv := httptest.NewServer(gateway.NewHandler(gateway.Chain(sim, rc.Middleware()), gateway.WithResponseHeaders(HeaderCacheStatus)))
	defer srv.Close()
	client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey("k"), option.WithMaxRetries(0))
	one := 1.0
	var resp *http.Response
	for range 2 {
		_, err := client.Chat.Completions.New(context.Background(), chat(&one, "forced"), option.WithHeader(HeaderCache, "on"), option.WithResponseInto(&resp))
		require.NoError(t, err)
	}
	assert.Equal(t, ResultHit, resp.Header.Get(HeaderCacheStatus))
	assert.EqualValues(t, 1, sim.Requests())
}

// The model check is the attempt boundary's, and a served answer makes no
// attempt: the cache checks the model the answer was made with against the
// caller's key, and a key that may not use it goes upstream (and is
// refused there), not served another key's answer.
func TestResponseCacheServesNoAnswerOfAModelTheKeyMayNotUse(t *testing.T) {
	f := newRespFixture(t, ResponseConfig{}, gatewaytest.SimConfig{})
	any := gateway.WithCaller(context.Background(), gateway.Caller{KeyID: "any", Tenant: "acme"})
	narrow := gateway.WithCaller(context.Background(), gateway.Caller{KeyID: "narrow", Tenant: "acme", Models: []string{"o1"}})
	_, err := f.client.Chat.Completions.New(any, chat(zero, "q"))
	require.NoError(t, err)
	_, err = f.client.Chat.Completions.New(narrow, chat(zero, "q"))
	require.Error(t, err)
	var apiErr *openai.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusForbidden, apiErr.StatusCode)
	assert.ErrorIs(t, gateway.ErrorFromResponse(apiErr.Response), gateway.ErrModelNotAllowed)
	cs := f.obs.all()
	assert.Empty(t, cs[1].CacheResult(), "not a hit")

	var resp *http.Response
	_, err = f.client.Chat.Completions.New(any, chat(zero, "q"), option.WithResponseInto(&resp))
	require.NoError(t, err)
	assert.Equal(t, ResultHit, resp.Header.Get(HeaderCacheStatus), "the answer is still kept for keys that may")
}

// Regression: the answer was kept only after its caller had read its end,
// so a call made right after could join the finished flight ("shared")
// instead of being served what was kept ("hit").
func TestResponseCacheAnswerIsKeptBeforeItsEndIsRead(t *testing.T) {
	f := newRespFixture(t, ResponseConfig{}, gatewaytest.SimConfig{})
	for i := range 50 {
		var resp *http.Response
		for range 2 {
			_, err := f.client.Chat.Completions.New(context.Background(), chat(zero, fmt.Sprint("question ", i)), option.WithResponseInto(&resp))
			require.NoError(t, err)
		}
		require.Equal(t, ResultHit, resp.Header.Get(HeaderCacheStatus), "call %d", i)
	}
	assert.EqualValues(t, 50, f.seen.n.Load())
}
