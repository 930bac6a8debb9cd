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

// gate is an upstream stand-in that holds every call until it is opened.
type gate struct {
	open  chan struct{}
	calls atomic.Int64
	next  http.RoundTripper
}

func (g *gate) middleware(next http.RoundTripper) http.RoundTripper {
	g.next = next
	return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		g.calls.Add(1)
		select {
		case <-g.open:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
		return next.RoundTrip(req)
	})
}

func TestResponseCacheCoalescesIdenticalCallsInFlight(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "json", true: "stream"}[stream], func(t *testing.T) {
			rc, err := NewResponseCache(ResponseConfig{})
			require.NoError(t, err)
			sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
			g := &gate{open: make(chan struct{})}
			obs := &calls{}
			srv := httptest.NewServer(gateway.NewHandler(gateway.Chain(sim, rc.Middleware(), g.middleware), gateway.WithObserver(obs.observe)))
			defer srv.Close()
			client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey("k"), option.WithMaxRetries(0))

			const n = 16
			texts := make([]string, n)
			var started, done sync.WaitGroup
			for i := range n {
				started.Add(1)
				done.Add(1)
				go func() {
					defer done.Done()
					started.Done()
					if stream {
						texts[i], _ = streamText(t, client.Chat.Completions.NewStreaming(context.Background(), chat(zero, "together")))
						return
					}
					r, err := client.Chat.Completions.New(context.Background(), chat(zero, "together"))
					if assert.NoError(t, err) {
						texts[i] = r.Choices[0].Message.Content
					}
				}()
			}
			started.Wait()
			waitFor(t, func() bool { return g.calls.Load() == 1 })
			close(g.open)
			done.Wait()

			assert.EqualValues(t, 1, g.calls.Load(), "one upstream call for identical calls")
			assert.EqualValues(t, 1, sim.Requests())
			for _, s := range texts {
				assert.Equal(t, texts[0], s)
			}
			results := map[string]int{}
			attempts := 0
			for _, c := range obs.all() {
				results[c.CacheResult()]++
				attempts += len(c.Attempts())
			}
			assert.Equal(t, 1, results[ResultMiss])
			assert.Equal(t, n-1, results[ResultShared]+results[ResultHit])
			assert.Equal(t, 1, attempts, "only the call that went upstream has an attempt")
			assert.Zero(t, rc.Stats().Flights)
		})
	}
}

func TestResponseCacheSharedCallSurvivesTheFirstCallerLeaving(t *testing.T) {
	rc, err := NewResponseCache(ResponseConfig{})
	require.NoError(t, err)
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	g := &gate{open: make(chan struct{})}
	client := openai.NewClient(option.WithHTTPClient(gateway.NewClient(gateway.Chain(sim, rc.Middleware(), g.middleware))),
		option.WithBaseURL("http://gateway.invalid/v1"), option.WithAPIKey("k"), option.WithMaxRetries(0))

	leaderCtx, leave := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := client.Chat.Completions.New(leaderCtx, chat(zero, "q"))
		leaderErr <- err
	}()
	waitFor(t, func() bool { return g.calls.Load() == 1 })
	follower := make(chan string, 1)
	go func() {
		r, err := client.Chat.Completions.New(context.Background(), chat(zero, "q"))
		if assert.NoError(t, err) {
			follower <- r.Choices[0].Message.Content
		} else {
			follower <- ""
		}
	}()
	waitFor(t, func() bool { return rc.flightReaders() == 2 })
	leave()
	assert.Error(t, <-leaderErr)
	close(g.open)
	assert.NotEmpty(t, <-follower, "the follower gets the answer its leader left")
	assert.Equal(t, 1, rc.Stats().Answers, "and it is kept")
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

// pipeProvider answers every call with one stream whose events the test
// writes.
type pipeProvider struct {
	w     *io.PipeWriter
	r     *io.PipeReader
	calls atomic.Int64
}

func (p *pipeProvider) Name() string { return "pipe" }
func (p *pipeProvider) RoundTrip(req *http.Request) (*http.Response, error) {
	req.Body.Close()
	p.calls.Add(1)
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: p.r, Request: req}, nil
}

func event(content string) string {
	return `data: {"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"` + content + `"}}]}` + "\n\n"
}

// A call that joins a shared stream midway reads it from its first event,
// and both read it to the end even when it grows past what may be kept.
func TestResponseCacheCallJoiningAStreamMidwayReadsItWhole(t *testing.T) {
	rc, err := NewResponseCache(ResponseConfig{MaxAnswerBytes: 512})
	require.NoError(t, err)
	p := &pipeProvider{}
	p.r, p.w = io.Pipe()
	client := gateway.NewClient(gateway.Chain(p, rc.Middleware()))
	post := func() *http.Response {
		resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"m","stream":true,"temperature":0,"messages":[{"role":"user","content":"hi"}]}`))
		require.NoError(t, err)
		return resp
	}
	first := make(chan *http.Response, 1)
	go func() { first <- post() }()
	_, err = io.WriteString(p.w, event("one"))
	require.NoError(t, err)
	leader := <-first
	buf := make([]byte, 4096)
	n, err := leader.Body.Read(buf)
	require.NoError(t, err)
	assert.Contains(t, string(buf[:n]), `"one"`)

	follower := post()
	assert.Equal(t, ResultShared, follower.Header.Get(HeaderCacheStatus))
	var want strings.Builder
	want.WriteString(event("one"))
	go func() {
		for i := range 20 { // past MaxAnswerBytes
			_, _ = io.WriteString(p.w, event(fmt.Sprint("w", i)))
		}
		_, _ = io.WriteString(p.w, "data: [DONE]\n\n")
		p.w.Close()
	}()
	for i := range 20 {
		want.WriteString(event(fmt.Sprint("w", i)))
	}
	want.WriteString("data: [DONE]\n\n")
	rest, err := io.ReadAll(leader.Body)
	require.NoError(t, err)
	leader.Body.Close()
	all, err := io.ReadAll(follower.Body)
	require.NoError(t, err)
	follower.Body.Close()
	assert.Equal(t, want.String(), string(buf[:n])+string(rest))
	assert.Equal(t, want.String(), string(all))
	assert.EqualValues(t, 1, p.calls.Load())
	assert.Zero(t, rc.Stats().Answers, "an answer over MaxAnswerBytes is not kept")
}
