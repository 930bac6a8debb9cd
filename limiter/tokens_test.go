package limiter

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// usages sums the usage the gateway recorded for every call it observed.
type usages struct {
	mu    sync.Mutex
	total int64
	calls int
}

func (u *usages) observe(c *gateway.Call) {
	got, ok := c.Usage()
	u.mu.Lock()
	defer u.mu.Unlock()
	u.calls++
	if ok {
		u.total += int64(got.PromptTokens + got.CompletionTokens)
	}
}

func (u *usages) sum() int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.total
}

// A token limit reserves the estimate (prompt + max_tokens, or the default)
// while a call runs and settles to the usage recorded when it ends: after
// streams read whole, non-streams, streams cancelled midway, upstream
// failures and resets, the bucket holds exactly the usage the gateway
// recorded, so no hold survives its call.
func TestTokenReservationsSettleToRecordedUsage(t *testing.T) {
	clk := gatewaytest.NewClock(t0) // never moves: nothing refills
	l := newTestLimiter(t, clk, Rule{Name: "tpm", Unit: Tokens, Limit: 1_000_000, Per: Minute})
	ok := sim(gatewaytest.SimConfig{CompletionTokens: 7})
	failing := sim(gatewaytest.SimConfig{Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{500}}})
	resetting := sim(gatewaytest.SimConfig{Faults: gatewaytest.Faults{ResetRate: 1}})
	cutting := sim(gatewaytest.SimConfig{CompletionTokens: 20, Faults: gatewaytest.Faults{CutRate: 1, CutAfter: 3}})
	var u usages
	obs := gateway.WithObserver(u.observe)
	for _, tc := range []struct {
		name   string
		p      gateway.Provider
		stream bool
	}{
		{"chat", ok, false}, {"stream", ok, true}, {"failure", failing, false}, {"reset", resetting, false},
		{"cut stream", cutting, true}, {"failed stream", failing, true},
	} {
		do(t, client(l, tc.p, obs), gateway.Caller{}, callBody("m", tc.stream, 50))
		assert.Equal(t, u.sum(), bucketUsed(t, l, "tpm", key{}), "after %s: the bucket holds the recorded usage", tc.name)
	}

	// A stream held open holds its estimate; cancelled midway, it settles
	// to what was delivered (recorded as estimated usage).
	c := client(l, sim(gatewaytest.SimConfig{CompletionTokens: 40}), obs)
	before := bucketUsed(t, l, "tpm", key{})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://gw.invalid/v1/chat/completions", stringsReader(callBody("m", true, 0)))
	resp, err := c.Do(req)
	require.NoError(t, err)
	held := bucketUsed(t, l, "tpm", key{}) - before
	assert.Greater(t, held, int64(DefaultMaxTokens), "no max_tokens: the prompt and the default completion are reserved")
	buf := make([]byte, 64)
	_, _ = resp.Body.Read(buf)
	cancel()
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, u.sum(), bucketUsed(t, l, "tpm", key{}), "a cancelled stream settles to what it delivered")
	assert.Equal(t, 7, u.calls)
}

// Concurrency cannot overrun a token limit: reservations count while the
// calls run, and a settlement frees the unused part at once.
func TestTokenReservationsBoundConcurrentCalls(t *testing.T) {
	clk := gatewaytest.NewClock(t0)
	l := newTestLimiter(t, clk, Rule{Name: "tpm", Unit: Tokens, Limit: 1000, Per: Minute})
	c := client(l, sim(gatewaytest.SimConfig{CompletionTokens: 5}))
	open := func() *http.Response {
		req, _ := http.NewRequest(http.MethodPost, "http://gw.invalid/v1/chat/completions", stringsReader(callBody("m", true, 400)))
		resp, err := c.Do(req)
		require.NoError(t, err)
		return resp
	}
	a, b := open(), open()
	require.Equal(t, 200, a.StatusCode)
	require.Equal(t, 200, b.StatusCode)
	third := open()
	assert.Equal(t, http.StatusTooManyRequests, third.StatusCode, "two reservations of ~400 leave less than a third needs")
	third.Body.Close()
	_, _ = io.Copy(io.Discard, a.Body)
	a.Body.Close()
	fourth := open()
	assert.Equal(t, 200, fourth.StatusCode, "the first call settled to ~15 tokens, freeing the rest of its reservation")
	fourth.Body.Close()
	b.Body.Close()
}
