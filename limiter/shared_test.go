package limiter

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

func newSharedLimiter(t *testing.T, rdb redis.UniversalClient, prefix string, clk gateway.Clock, rules ...Rule) *Limiter {
	t.Helper()
	l, err := New(Config{Rules: rules, Clock: clk, Redis: rdb, Prefix: prefix})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

// Four instances on one Redis, a limit of 1,000 a minute, 8,000 attempts
// from 8 goroutines: the fleet admits the limit, not the limit times four
// (at most 1,010: the bucket refills by about 17 a second while the test
// runs), and most decisions are made from local leases.
func TestFleetOfFourAdmitsTheLimitNotFourTimesIt(t *testing.T) {
	rdb, prefix := redisForTest(t)
	rule := Rule{Name: "fleet-rpm", Unit: Requests, Limit: 1000, Per: Minute, Shared: true}
	var ls []*Limiter
	var clients []*http.Client
	for range 4 {
		l := newSharedLimiter(t, rdb, prefix, nil, rule)
		ls = append(ls, l)
		clients = append(clients, client(l, sim(gatewaytest.SimConfig{CompletionTokens: 1})))
	}
	var admitted atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			c := clients[g%4]
			for range 1000 {
				if do(t, c, gateway.Caller{}, callBody("m", false, 0)).status == 200 {
					admitted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var local, shared, cmds uint64
	for _, l := range ls {
		s := l.Stats()
		local, shared, cmds = local+s.SharedLocal, shared+s.SharedLocal+s.SharedRedis, cmds+s.RedisCalls
	}
	t.Logf("admitted %d of 8000 in %v; decided locally %.1f%%; Redis commands per call %.4f",
		admitted.Load(), elapsed, 100*float64(local)/float64(shared), float64(cmds)/8000)
	// By construction the fleet admits what one bucket would: its burst and
	// what refills while the test runs.
	bound := int64(1000 + elapsed.Seconds()*1000/60 + 1)
	if elapsed < 600*time.Millisecond {
		bound = 1010
	}
	assert.LessOrEqual(t, admitted.Load(), bound)
	assert.GreaterOrEqual(t, admitted.Load(), int64(900), "leases are spent, not stranded")
	assert.GreaterOrEqual(t, float64(local)/float64(shared), 0.95, "most decisions are local")
}

// RELIABILITY case 16: two instances, one Redis, 2 a minute, 4 requests:
// 2 allowed; and a token limit is read from the shared counter: what one
// instance reserved, the other cannot take.
func TestTwoInstancesShareRequestsAndTokens(t *testing.T) {
	rdb, prefix := redisForTest(t)
	clk := gatewaytest.NewClock(t0)
	rules := []Rule{
		{Name: "rpm", Dimensions: []Dimension{KeyID}, Unit: Requests, Limit: 2, Per: Minute, Shared: true, Models: []string{"m"}},
		{Name: "tpm", Unit: Tokens, Limit: 1000, Per: Minute, Shared: true, Models: []string{"big"}},
	}
	a := newSharedLimiter(t, rdb, prefix, clk, rules...)
	b := newSharedLimiter(t, rdb, prefix, clk, rules...)
	ca, cb := client(a, sim(gatewaytest.SimConfig{})), client(b, sim(gatewaytest.SimConfig{}))
	who := gateway.Caller{KeyID: "k"}
	got := []int{do(t, ca, who, callBody("m", false, 0)).status, do(t, cb, who, callBody("m", false, 0)).status,
		do(t, ca, who, callBody("m", false, 0)).status, do(t, cb, who, callBody("m", false, 0)).status}
	assert.Equal(t, []int{200, 200, 429, 429}, got)

	// a holds two streams reserving ~310 tokens each; b's call needing ~410
	// does not fit in what is left.
	big := gateway.Caller{KeyID: "big"}
	var open []*http.Response
	for range 2 {
		req, _ := http.NewRequestWithContext(gateway.WithCaller(t.Context(), big), http.MethodPost,
			"http://gw.invalid/v1/chat/completions", stringsReader(callBody("big", true, 300)))
		resp, err := ca.Do(req)
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode)
		open = append(open, resp)
	}
	r := do(t, cb, big, callBody("big", false, 400))
	assert.Equal(t, 429, r.status, "the other instance's reservations count")
	for _, resp := range open {
		resp.Body.Close()
	}
	// b asks Redis again once the Retry-After it answered has passed (the
	// bucket alone would have needed that long), and finds what a's calls,
	// settled far below their estimates, gave back at once.
	wait, err := time.ParseDuration(r.header.Get("Retry-After") + "s")
	require.NoError(t, err)
	clk.Advance(wait)
	assert.Equal(t, 200, do(t, cb, big, callBody("big", false, 400)).status,
		"the reservations went back to the shared counter")
}

// RELIABILITY case 18: instances whose clocks disagree by hours decide the
// same, since a shared bucket runs on Redis's TIME and a shared quota's day
// is Redis's.
func TestSkewedClocksDecideTheSame(t *testing.T) {
	rdb, prefix := redisForTest(t)
	rules := []Rule{
		{Name: "rpm", Unit: Requests, Limit: 2, Per: Minute, Shared: true, Models: []string{"rate"}},
		{Name: "daily", Unit: Requests, Limit: 3, Per: Day, Shared: true, Models: []string{"quota"}},
	}
	now := time.Now()
	a := newSharedLimiter(t, rdb, prefix, gatewaytest.NewClock(now), rules...)
	b := newSharedLimiter(t, rdb, prefix, gatewaytest.NewClock(now.Add(13*time.Hour)), rules...)
	ca, cb := client(a, sim(gatewaytest.SimConfig{})), client(b, sim(gatewaytest.SimConfig{}))
	rate := []int{do(t, ca, gateway.Caller{}, callBody("rate", false, 0)).status, do(t, cb, gateway.Caller{}, callBody("rate", false, 0)).status,
		do(t, cb, gateway.Caller{}, callBody("rate", false, 0)).status, do(t, ca, gateway.Caller{}, callBody("rate", false, 0)).status}
	assert.Equal(t, []int{200, 200, 429, 429}, rate)
	var quota []int
	for _, c := range []*http.Client{ca, cb, ca, cb} {
		quota = append(quota, do(t, c, gateway.Caller{}, callBody("quota", false, 0)).status)
	}
	assert.Equal(t, []int{200, 200, 200, 429}, quota, "one day, Redis's, for both")
}

// Priority shares hold across a fleet: with 20% of a shared 10 kept for
// core calls and 30% for real-time ones, batch calls from two instances get
// at most 5 between them, and the lowest group is refused first.
func TestSharedLimitShedsTheLowestGroupFirst(t *testing.T) {
	rdb, prefix := redisForTest(t)
	clk := gatewaytest.NewClock(t0)
	rule := Rule{Name: "fleet", Unit: Requests, Limit: 10, Per: Minute, Shared: true, Shares: map[int]float64{1: 0.2, 2: 0.3}}
	clients := []*http.Client{
		client(newSharedLimiter(t, rdb, prefix, clk, rule), sim(gatewaytest.SimConfig{})),
		client(newSharedLimiter(t, rdb, prefix, clk, rule), sim(gatewaytest.SimConfig{})),
	}
	admitted := map[int]int{}
	var order []int
	refused := map[int]bool{}
	for i := range 10 {
		for _, g := range []int{3, 2, 1} {
			if do(t, clients[i%2], gateway.Caller{Priority: g}, callBody("m", false, 0)).status == 200 {
				admitted[g]++
			} else if !refused[g] {
				refused[g] = true
				order = append(order, g)
			}
		}
	}
	assert.Equal(t, []int{3, 2, 1}, order)
	assert.LessOrEqual(t, admitted[3], 5)
	assert.LessOrEqual(t, admitted[1]+admitted[2]+admitted[3], 10)
	assert.GreaterOrEqual(t, admitted[1], 2)
}
