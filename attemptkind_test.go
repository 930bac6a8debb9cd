package gateway_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

// sequence is a Dispatcher that sends each call to its targets' chains in
// turn, until one answers 2xx, as a router falling back does; overlap sends
// the first two at once, as a hedge does.
type sequence struct {
	chains  []http.RoundTripper
	overlap bool
	waiting chan struct{} // with overlap: the first attempt is upstream
}

func (s *sequence) Name() string      { return "seq" }
func (s *sequence) Targets() []string { return []string{"a", "b"} }

func (s *sequence) RoundTrip(req *http.Request) (*http.Response, error) {
	try := func(rt http.RoundTripper) (*http.Response, error) {
		r := req.Clone(req.Context())
		r.Body, _ = req.GetBody()
		return rt.RoundTrip(r)
	}
	if s.overlap { // the first waits upstream until the second has started
		var wg sync.WaitGroup
		var first *http.Response
		wg.Go(func() { first, _ = try(s.chains[0]) })
		<-s.waiting
		second, err := try(s.chains[1])
		wg.Wait()
		if err == nil {
			second.Body.Close()
		}
		return first, nil
	}
	var resp *http.Response
	var err error
	for _, rt := range s.chains {
		if resp, err = try(rt); err == nil && resp.StatusCode/100 == 2 {
			return resp, nil
		}
		if err == nil {
			resp.Body.Close()
		}
	}
	return resp, err
}

// named answers status, under name.
func named(name string, status int) gateway.Provider {
	return &namedProvider{name: name, status: status}
}

type namedProvider struct {
	name    string
	status  int
	waiting chan<- struct{} // told once the provider has the request, then it waits for release
	release <-chan struct{}
}

func (p *namedProvider) Name() string { return p.name }
func (p *namedProvider) RoundTrip(req *http.Request) (*http.Response, error) {
	if p.waiting != nil {
		p.waiting <- struct{}{}
		<-p.release
	}
	req.Body.Close()
	return jsonReply(req, p.status, chatReply), nil
}

func kinds(t *testing.T, rt http.RoundTripper) []string {
	t.Helper()
	var c *gateway.Call
	client := gateway.NewClient(rt)
	resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err)
	c = gateway.CallFrom(resp.Request.Context())
	resp.Body.Close()
	require.NotNil(t, c)
	var out []string
	for _, a := range c.Attempts() {
		out = append(out, a.Target+":"+a.Kind.String())
	}
	return out
}

// The Call decides each attempt's kind once, as its boundary starts it: the
// first; the same target again, a retry; another target, a fallback, also
// when it is a target tried before (a, b, a); one started while another is
// running, a hedge.
func TestAttemptKindIsDecidedByTheCall(t *testing.T) {
	assert.Equal(t, []string{"a:first", "a:retry", "b:fallback", "a:fallback"}, kinds(t, &sequence{chains: []http.RoundTripper{
		gateway.Chain(named("a", 500)), gateway.Chain(named("a", 500)), gateway.Chain(named("b", 500)), gateway.Chain(named("a", 200))}}))
}

// A second attempt started while the first is still upstream is a hedge.
func TestAttemptStartedWhileAnotherRunsIsAHedge(t *testing.T) {
	waiting, release := make(chan struct{}), make(chan struct{})
	slow := &namedProvider{name: "a", status: 200, waiting: waiting, release: release}
	fast := &releasing{Provider: named("a", 200), release: release}
	got := kinds(t, &sequence{overlap: true, waiting: waiting, chains: []http.RoundTripper{gateway.Chain(slow), gateway.Chain(fast)}})
	assert.ElementsMatch(t, []string{"a:first", "a:hedge"}, got)
}

// releasing answers, then lets the slow attempt answer too.
type releasing struct {
	gateway.Provider
	release chan struct{}
}

func (r *releasing) RoundTrip(req *http.Request) (*http.Response, error) {
	defer close(r.release)
	return r.Provider.RoundTrip(req)
}
