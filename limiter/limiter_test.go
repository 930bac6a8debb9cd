package limiter

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// RELIABILITY case 14: 15 goroutines at once against a burst of 5: exactly
// 5 admitted.
func TestFifteenAtOnceAgainstBurstFiveAdmitsExactlyFive(t *testing.T) {
	clk := gatewaytest.NewClock(t0)
	l := newTestLimiter(t, clk, Rule{Name: "rpm", Unit: Requests, Limit: 5, Per: Minute})
	c := client(l, sim(gatewaytest.SimConfig{}))
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 15 {
		wg.Go(func() {
			<-start
			r := do(t, c, gateway.Caller{}, callBody("m", false, 0))
			switch {
			case r.status == 200:
				ok.Add(1)
			case errors.Is(r.err, ErrRateLimited):
				refused.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	assert.Equal(t, int64(5), ok.Load())
	assert.Equal(t, int64(10), refused.Load())
	assert.Equal(t, Stats{Admitted: 5, Refused: 10}, l.Stats())
}

// RELIABILITY case 15: an unset or zero limit is a configuration error, as
// is every other bad field; all are reported at once.
func TestZeroOrUnsetLimitIsAConfigurationError(t *testing.T) {
	cases := map[string]Rule{
		"zero limit":        {Name: "a", Unit: Requests, Per: Minute},
		"negative":          {Name: "a", Unit: Requests, Limit: -1, Per: Minute},
		"no unit":           {Name: "a", Limit: 1, Per: Minute},
		"no period":         {Name: "a", Unit: Tokens, Limit: 1},
		"no name":           {Unit: Requests, Limit: 1, Per: Minute},
		"concurrent per":    {Name: "a", Unit: Concurrent, Limit: 1, Per: Minute},
		"shared no redis":   {Name: "a", Unit: Requests, Limit: 1, Per: Minute, Shared: true},
		"share too big":     {Name: "a", Unit: Requests, Limit: 1, Per: Minute, Shares: map[int]float64{1: 0.6, 2: 0.5}},
		"share group 3":     {Name: "a", Unit: Requests, Limit: 1, Per: Minute, Shares: map[int]float64{3: 0.1}},
		"quota burst":       {Name: "a", Unit: Requests, Limit: 1, Per: Day, Burst: 3},
		"dimension twice":   {Name: "a", Unit: Requests, Limit: 1, Per: Minute, Dimensions: []Dimension{KeyID, KeyID}},
		"shared concurrent": {Name: "a", Unit: Concurrent, Limit: 1, Shared: true},
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := New(Config{Rules: []Rule{r}})
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrConfig)
		})
	}
	_, err := New(Config{})
	assert.ErrorIs(t, err, ErrConfig, "no rules")
	_, err = New(Config{Rules: []Rule{{Name: "a", Unit: Requests, Limit: 1, Per: Minute}, {Name: "a", Unit: Requests, Limit: 1, Per: Minute}}})
	assert.ErrorContains(t, err, "twice")
	var re *RuleError
	require.ErrorAs(t, err, &re, "a problem of one rule names it")
	assert.Equal(t, 1, re.Rule, "the later of the two")
	assert.ErrorIs(t, re, ErrConfig)
	_, err = New(Config{Rules: []Rule{{Name: "a", Unit: Requests, Limit: 1, Per: Minute}, {Name: "b", Unit: Requests, Limit: 1, Per: Minute, Shared: true}}})
	require.ErrorAs(t, err, &re)
	assert.Equal(t, 1, re.Rule, "the shared rule")
	assert.ErrorIs(t, err, ErrNoRedis, "a missing Redis is told apart, for a configuration file to name its own key")
	assert.ErrorIs(t, err, ErrConfig)
	assert.ErrorContains(t, err, `rule "b"`)
	_, err = New(Config{Rules: []Rule{{Name: "a"}, {Name: "b"}}})
	require.Error(t, err)
	assert.Equal(t, 4, strings.Count(err.Error(), "invalid configuration"), "every problem of every rule is reported")
	_, err = New(Config{RedisTimeout: time.Second, Rules: []Rule{{Name: "a", Unit: Requests, Limit: 1, Per: Minute}}})
	assert.ErrorContains(t, err, "RedisTimeout")
}

// RELIABILITY case 19: the limiter's own 429s carry a Retry-After computed
// from the limit, in the OpenAI shape with the gateway's mark, and every
// answer, admitted or refused, carries the x-ratelimit-* headers.
func TestRefusalIs429WithRetryAfterAndRateLimitHeaders(t *testing.T) {
	clk := gatewaytest.NewClock(t0)
	l := newTestLimiter(t, clk,
		Rule{Name: "rpm", Dimensions: []Dimension{KeyID}, Unit: Requests, Limit: 2, Per: Minute},
		Rule{Name: "tpm", Dimensions: []Dimension{KeyID}, Unit: Tokens, Limit: 10000, Per: Minute})
	c := client(l, sim(gatewaytest.SimConfig{CompletionTokens: 5}))
	who := gateway.Caller{KeyID: "k1"}
	r := do(t, c, who, callBody("m", false, 100))
	require.Equal(t, 200, r.status)
	assert.Equal(t, "2", r.header.Get("X-Ratelimit-Limit-Requests"))
	assert.Equal(t, "1", r.header.Get("X-Ratelimit-Remaining-Requests"))
	assert.Equal(t, "30s", r.header.Get("X-Ratelimit-Reset-Requests"))
	assert.Equal(t, "10000", r.header.Get("X-Ratelimit-Limit-Tokens"))
	assert.NotEmpty(t, r.header.Get("X-Ratelimit-Remaining-Tokens"))
	require.Equal(t, 200, do(t, c, who, callBody("m", false, 100)).status)

	r = do(t, c, who, callBody("m", false, 100))
	assert.Equal(t, http.StatusTooManyRequests, r.status)
	assert.ErrorIs(t, r.err, ErrRateLimited)
	assert.Equal(t, "30", r.header.Get("Retry-After"), "one request of 2/min comes back in 30s")
	assert.Equal(t, "rate_limit_exceeded", r.header.Get("X-Llmgate-Error"))
	assert.Equal(t, "0", r.header.Get("X-Ratelimit-Remaining-Requests"), "a refusal carries the headers too")
	assert.Equal(t, "1m0s", r.header.Get("X-Ratelimit-Reset-Requests"))

	// Another key has a bucket of its own.
	assert.Equal(t, 200, do(t, c, gateway.Caller{KeyID: "k2"}, callBody("m", false, 100)).status)
	clk.Advance(30 * time.Second)
	assert.Equal(t, 200, do(t, c, who, callBody("m", false, 100)).status, "admitted once Retry-After has passed")
}

// A refusal carries the headers of every unit that applies, as an
// admission does, with what is left once the refusal gave back what earlier
// rules took: refused by the request limit, it still tells the tokens left;
// refused by the token limit, the request it did not spend is still left.
func TestRefusalHeadersTellEveryLimitAfterTheGiveBack(t *testing.T) {
	clk := gatewaytest.NewClock(t0) // never moves: nothing refills
	l := newTestLimiter(t, clk,
		Rule{Name: "rpm", Dimensions: []Dimension{KeyID}, Unit: Requests, Limit: 3, Per: Minute},
		Rule{Name: "tpm", Dimensions: []Dimension{KeyID}, Unit: Tokens, Limit: 10000, Per: Minute})
	var u usages
	c := client(l, sim(gatewaytest.SimConfig{CompletionTokens: 5}), gateway.WithObserver(u.observe))
	who := gateway.Caller{KeyID: "k1"}
	require.Equal(t, 200, do(t, c, who, callBody("m", false, 100)).status)

	r := do(t, c, who, callBody("m", false, 20000))
	require.Equal(t, http.StatusTooManyRequests, r.status, "20,000 tokens do not fit in what is left of 10,000")
	assert.Equal(t, "2", r.header.Get("X-Ratelimit-Remaining-Requests"), "the refused call's request was given back")
	assert.Equal(t, strconv.FormatInt(10000-u.sum(), 10), r.header.Get("X-Ratelimit-Remaining-Tokens"))

	require.Equal(t, 200, do(t, c, gateway.Caller{KeyID: "k2"}, callBody("m", false, 100)).status)
	for range 2 {
		require.Equal(t, 200, do(t, c, who, callBody("m", false, 100)).status)
	}
	r = do(t, c, who, callBody("m", false, 100))
	require.Equal(t, http.StatusTooManyRequests, r.status)
	assert.Equal(t, "0", r.header.Get("X-Ratelimit-Remaining-Requests"))
	assert.Equal(t, "10000", r.header.Get("X-Ratelimit-Limit-Tokens"), "the token limit the request limit's refusal never reached")
	assert.NotEmpty(t, r.header.Get("X-Ratelimit-Remaining-Tokens"))
	assert.NotEmpty(t, r.header.Get("X-Ratelimit-Reset-Tokens"))
}

// Through the server-mode handler and the official SDK, the refusal is the
// SDK's 429 API error, told apart from an upstream's by ErrorFromResponse.
func TestOpenAISDKSeesTheLimitersRefusal(t *testing.T) {
	clk := gatewaytest.NewClock(t0)
	l := newTestLimiter(t, clk, Rule{Name: "rpm", Unit: Requests, Limit: 1, Per: Minute})
	status, errIs, header := sdkCalls(t, gateway.NewHandler(gateway.Chain(sim(gatewaytest.SimConfig{}), l.Middleware())), 2)
	assert.Equal(t, []int{200, 429}, status)
	assert.True(t, errIs(ErrRateLimited))
	assert.Equal(t, "60", header.Get("Retry-After"))
	assert.Equal(t, "0", header.Get("X-Ratelimit-Remaining-Requests"))
}

// A caller's Limits override a rule's limit by its name, for its own calls.
func TestCallerLimitsOverrideTheRule(t *testing.T) {
	clk := gatewaytest.NewClock(t0)
	l := newTestLimiter(t, clk, Rule{Name: "rpm", Dimensions: []Dimension{KeyID}, Unit: Requests, Limit: 1, Per: Minute})
	c := client(l, sim(gatewaytest.SimConfig{}))
	vip := gateway.Caller{KeyID: "vip", Limits: map[string]int64{"rpm": 3}}
	blocked := gateway.Caller{KeyID: "blocked", Limits: map[string]int64{"rpm": 0}}
	var got []int
	for range 4 {
		got = append(got, do(t, c, vip, callBody("m", false, 0)).status)
	}
	assert.Equal(t, []int{200, 200, 200, 429}, got)
	assert.Equal(t, 429, do(t, c, blocked, callBody("m", false, 0)).status, "an override of 0 admits nothing: never unlimited")
	assert.Equal(t, 200, do(t, c, gateway.Caller{KeyID: "plain"}, callBody("m", false, 0)).status)
	assert.Equal(t, 429, do(t, c, gateway.Caller{KeyID: "plain"}, callBody("m", false, 0)).status)
}

// An override far over any real limit (a key store holds any positive
// int64) is capped, not wrapped round: the caller gets a bucket at least
// as large as the rule's, never a burst of one.
func TestAHugeOverrideIsCappedNotWrapped(t *testing.T) {
	clk := gatewaytest.NewClock(t0) // never moves: only the burst admits
	l := newTestLimiter(t, clk, Rule{Name: "rpm", Dimensions: []Dimension{KeyID}, Unit: Requests, Limit: 60, Per: Minute})
	c := client(l, sim(gatewaytest.SimConfig{}))
	for _, lim := range []int64{1 << 62, 1<<63 - 1, maxLimit + 1} {
		vip := gateway.Caller{KeyID: strconv.FormatInt(lim, 10), Limits: map[string]int64{"rpm": lim}}
		admitted := 0
		for range 100 {
			if do(t, c, vip, callBody("m", false, 0)).status == 200 {
				admitted++
			}
		}
		assert.Equal(t, 100, admitted, "override %d", lim)
	}
	require.Error(t, Rule{Name: "r", Unit: Requests, Limit: 1, Per: Hour, Burst: maxLimit}.Validate(),
		"a burst whose refill time does not fit in int64 nanoseconds is refused")
	require.NoError(t, Rule{Name: "r", Unit: Requests, Limit: maxLimit, Per: Second, Burst: maxLimit}.Validate())
}

// Several rules: a refusal by a later rule gives back what earlier ones took.
func TestLaterRefusalGivesBackEarlierTakes(t *testing.T) {
	clk := gatewaytest.NewClock(t0)
	l := newTestLimiter(t, clk,
		Rule{Name: "global", Unit: Requests, Limit: 10, Per: Minute},
		Rule{Name: "per-model", Dimensions: []Dimension{Model}, Models: []string{"gpt-4*"}, Unit: Requests, Limit: 1, Per: Minute})
	c := client(l, sim(gatewaytest.SimConfig{}))
	assert.Equal(t, 200, do(t, c, gateway.Caller{}, callBody("gpt-4.1", false, 0)).status)
	for range 3 {
		assert.Equal(t, 429, do(t, c, gateway.Caller{}, callBody("gpt-4.1", false, 0)).status)
	}
	assert.Equal(t, int64(1), bucketUsed(t, l, "global", key{}), "the refused calls took nothing from the global bucket")
	assert.Equal(t, 200, do(t, c, gateway.Caller{}, callBody("gpt-4o-mini", false, 0)).status, "the model rule does not apply")
}

// A concurrency limit holds a place until the call's body is closed.
func TestConcurrencyPlaceHeldUntilTheBodyCloses(t *testing.T) {
	l := newTestLimiter(t, nil, Rule{Name: "conc", Unit: Concurrent, Limit: 1})
	c := client(l, sim(gatewaytest.SimConfig{}))
	req, _ := http.NewRequest(http.MethodPost, "http://gw.invalid/v1/chat/completions", stringsReader(callBody("m", true, 0)))
	resp, err := c.Do(req)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	r := do(t, c, gateway.Caller{}, callBody("m", false, 0))
	assert.Equal(t, 429, r.status, "the open stream holds the only place")
	assert.Equal(t, "1", r.header.Get("Retry-After"))
	resp.Body.Close()
	assert.Equal(t, 200, do(t, c, gateway.Caller{}, callBody("m", false, 0)).status)
	assert.Equal(t, int64(0), stateOf(t, l, "conc").lookup(key{}, 0).g.n.Load())
}
