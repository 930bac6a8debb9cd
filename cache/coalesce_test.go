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

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

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
			// A server-mode call ends when its handler has closed the body,
			// which may be after its client has read it all.
			waitFor(t, func() bool { return len(obs.all()) == n })
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

// A call joining a flight shares its answer only when its key may use the
// model the answer is made with; and a flight refused for its first caller
// (a budget, a model) is that caller's refusal, not the others'.
func TestResponseCacheJoinedCallsDoNotShareAnotherKeysAnswerOrRefusal(t *testing.T) {
	for _, tc := range []struct {
		name           string
		leader, joiner gateway.Caller
		joinerStatus   int
	}{
		{"joiner may not use the model", gateway.Caller{KeyID: "any", Tenant: "acme"},
			gateway.Caller{KeyID: "narrow", Tenant: "acme", Models: []string{"o1"}}, http.StatusForbidden},
		{"leader refused", gateway.Caller{KeyID: "narrow", Tenant: "acme", Models: []string{"o1"}},
			gateway.Caller{KeyID: "any", Tenant: "acme"}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := NewResponseCache(ResponseConfig{})
			require.NoError(t, err)
			sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
			g := &gate{open: make(chan struct{})}
			client := gateway.NewClient(gateway.Chain(sim, rc.Middleware(), g.middleware))
			post := func(caller gateway.Caller) *http.Response {
				req, _ := http.NewRequestWithContext(gateway.WithCaller(context.Background(), caller), http.MethodPost,
					"http://gateway.invalid/v1/chat/completions",
					strings.NewReader(`{"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"q"}]}`))
				resp, err := client.Do(req)
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp
			}
			leader := make(chan *http.Response, 1)
			go func() { leader <- post(tc.leader) }()
			waitFor(t, func() bool { return g.calls.Load() == 1 })
			joiner := make(chan *http.Response, 1)
			go func() { joiner <- post(tc.joiner) }()
			waitFor(t, func() bool { return rc.flightReaders() == 2 })
			close(g.open)
			<-leader
			resp := <-joiner
			assert.Equal(t, tc.joinerStatus, resp.StatusCode)
			assert.NotEqual(t, ResultShared, resp.Header.Get(HeaderCacheStatus))
		})
	}
}
