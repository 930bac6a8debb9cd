package limiter

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// newTestLimiter builds a Limiter on a fake clock, closed at the end of the
// test.
func newTestLimiter(t testing.TB, clk gateway.Clock, rules ...Rule) *Limiter {
	t.Helper()
	l, err := New(Config{Rules: rules, Clock: clk})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

// client is a client-mode gateway over sim behind the limiter.
func client(l *Limiter, sim gateway.Provider, opts ...gateway.Option) *http.Client {
	return gateway.NewClient(gateway.Chain(sim, l.Middleware()), opts...)
}

// reply is what a test call got.
type reply struct {
	status int
	header http.Header
	err    error // the gateway's own error, from the response
}

// callBody returns a chat body; maxTokens 0 leaves it unset.
func callBody(model string, stream bool, maxTokens int) string {
	b := `{"model":"` + model + `","messages":[{"role":"user","content":"hello there"}]`
	if stream {
		b += `,"stream":true`
	}
	if maxTokens > 0 {
		b += `,"max_tokens":` + strconv.Itoa(maxTokens)
	}
	return b + "}"
}

// do sends one chat call as caller and reads the whole answer.
func do(t testing.TB, c *http.Client, caller gateway.Caller, body string) reply {
	t.Helper()
	ctx := gateway.WithCaller(context.Background(), caller)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://gw.invalid/v1/chat/completions", strings.NewReader(body))
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return reply{status: resp.StatusCode, header: resp.Header, err: gateway.ErrorFromResponse(resp)}
}

// bucketUsed returns the units a local bucket of rule name holds taken at
// the limiter's now (nothing refills on a fake clock that does not move).
func bucketUsed(t testing.TB, l *Limiter, name string, k key) int64 {
	t.Helper()
	dims := 0 // the tests' keys: none, one value, or several
	for i := range k {
		if k[i] != "" {
			dims = i + 1
		}
	}
	if dims > 1 {
		dims = len(k)
	}
	e := stateOf(t, l, name).lookup(k, dims)
	if e == nil {
		return 0
	}
	now, _ := l.now()
	p := e.b.p.Load()
	return (max(e.b.tat.Load()-now, 0) + p.interval - 1) / p.interval
}

func stateOf(t testing.TB, l *Limiter, name string) *ruleState {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.states[name]
	require.NotNil(t, st, "rule %q", name)
	return st
}

func sim(cfg gatewaytest.SimConfig) *gatewaytest.Sim { return gatewaytest.MustNewSim("sim", cfg) }

func stringsReader(s string) io.Reader { return strings.NewReader(s) }
