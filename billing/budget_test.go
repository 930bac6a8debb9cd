package billing_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/billing"
	"github.com/llmgate/gateway/gatewaytest"
)

const smallReply = `{"choices":[{"message":{"content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":2}}`

func bodyWithMax(maxTokens string) string {
	return strings.Replace(chatBody, `"model"`, `"max_tokens":`+maxTokens+`,"model"`, 1)
}

// holdOf returns what one call of body holds under cfg's policy: the held
// amount while it is in flight.
func holdOf(t *testing.T, policy billing.Policy, body string) int64 {
	t.Helper()
	store := billing.NewLocalBudgets()
	m, _ := newMeter(t, billing.MeterConfig{Budget: billing.BudgetConfig{Store: store, Policy: policy}})
	g := newGate(smallReply)
	done := make(chan struct{})
	go func() {
		defer close(done)
		call(t, gateway.Chain(g, m.Middleware()), gateway.Caller{KeyID: "probe", Budget: gateway.Budget{Limit: 1e15}}, body)
	}()
	<-g.arrived
	_, held := store.Spent("key:probe:all")
	close(g.release)
	<-done
	_, after := store.Spent("key:probe:all")
	require.Zero(t, after, "released at the end")
	require.Positive(t, held)
	return held
}

// burst sends n calls at once through rts (round robin) and returns how
// many reached the provider and how many were refused with
// ErrBudgetExceeded, once all have ended.
func burst(t *testing.T, n int, rts []http.RoundTripper, g *gate, caller gateway.Caller, body string) (admitted, refused int) {
	t.Helper()
	var wg sync.WaitGroup
	results := make(chan int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(rt http.RoundTripper) {
			defer wg.Done()
			resp, _ := call(t, rt, caller, body)
			results <- resp.StatusCode
		}(rts[i%len(rts)])
	}
	// Every call either reaches the gate or is refused; then let them go.
	deadline := time.After(10 * time.Second)
	for arrived, answered := 0, 0; arrived+answered < n; {
		select {
		case <-g.arrived:
			arrived++
		case st := <-results:
			require.Equal(t, http.StatusPaymentRequired, st, "only refusals answer before the release")
			answered++
			refused++
		case <-deadline:
			t.Fatal("calls neither arrived nor were refused")
		}
	}
	close(g.release)
	wg.Wait()
	close(results)
	for st := range results {
		if st == http.StatusPaymentRequired {
			refused++
		} else {
			require.Equal(t, 200, st)
			admitted++
		}
	}
	return admitted, refused
}

// Case 27: 8 concurrent calls with budget left for 1: exactly 1 admitted.
func TestBudgetEightConcurrentCallsBudgetForOne(t *testing.T) {
	body := bodyWithMax("1000")
	one := holdOf(t, billing.Strict, body)
	caller := gateway.Caller{KeyID: "k1", Budget: gateway.Budget{Limit: one + one/2}}
	t.Run("local", func(t *testing.T) {
		store := billing.NewLocalBudgets()
		m, rec := newMeter(t, billing.MeterConfig{Budget: billing.BudgetConfig{Store: store}})
		g := newGate(smallReply)
		admitted, refused := burst(t, 8, []http.RoundTripper{gateway.Chain(g, m.Middleware())}, g, caller, body)
		assert.Equal(t, 1, admitted)
		assert.Equal(t, 7, refused)
		assert.Equal(t, int64(7), m.Stats().Refused)
		spent, held := store.Spent("key:k1:all")
		assert.Zero(t, held)
		require.Len(t, rec.all(), 1)
		assert.Equal(t, rec.all()[0].Cost, spent, "settled to the real cost")
		assert.Less(t, spent, one, "which is below the hold")
	})
	t.Run("redis, two instances", func(t *testing.T) {
		rdb, prefix := redisForTest(t)
		g := newGate(smallReply)
		var rts []http.RoundTripper
		var stores []*billing.RedisBudgets
		for i := 0; i < 2; i++ {
			store, err := billing.NewRedisBudgets(newRedisClient(t, rdb), billing.RedisBudgetConfig{Prefix: prefix})
			require.NoError(t, err)
			stores = append(stores, store)
			m, _ := newMeter(t, billing.MeterConfig{Budget: billing.BudgetConfig{Store: store}})
			rts = append(rts, gateway.Chain(g, m.Middleware()))
		}
		admitted, refused := burst(t, 8, rts, g, caller, body)
		assert.Equal(t, 1, admitted)
		assert.Equal(t, 7, refused)
		spent, held, err := stores[1].Spent(context.Background(), "key:k1:all")
		require.NoError(t, err)
		assert.Zero(t, held)
		assert.Equal(t, gpt4o.Cost(gateway.Usage{PromptTokens: 10, CompletionTokens: 2}), spent)
	})
}

// A burst of large-max_tokens calls whose real cost is small is not refused
// while real spend is far below the budget (Expected); Strict, which holds
// the worst case, admits only as many as their maximums fit, and says so.
func TestBudgetBurstOfLargeMaxTokensNotRefused(t *testing.T) {
	body := bodyWithMax("100000") // up to $1 of gpt-4o output each
	worst := holdOf(t, billing.Strict, body)
	caller := gateway.Caller{KeyID: "k1", Budget: gateway.Budget{Limit: 5 * worst}}
	for _, tc := range []struct {
		policy   billing.Policy
		admitted int
	}{{billing.Expected, 20}, {billing.Strict, 5}} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			store := billing.NewLocalBudgets()
			m, rec := newMeter(t, billing.MeterConfig{Budget: billing.BudgetConfig{Store: store, Policy: tc.policy}})
			g := newGate(smallReply)
			admitted, refused := burst(t, 20, []http.RoundTripper{gateway.Chain(g, m.Middleware())}, g, caller, body)
			assert.Equal(t, tc.admitted, admitted)
			assert.Equal(t, 20-tc.admitted, refused)
			spent, held := store.Spent("key:k1:all")
			assert.Zero(t, held)
			assert.Equal(t, int64(tc.admitted)*gpt4o.Cost(gateway.Usage{PromptTokens: 10, CompletionTokens: 2}), spent)
			assert.Len(t, rec.all(), tc.admitted)
			assert.Less(t, spent*100, caller.Budget.Limit, "real spend stayed far below the budget")
		})
	}
	// Held one at a time, Strict admits every call of a long sequential
	// burst: holds are released as each call ends.
	store := billing.NewLocalBudgets()
	m, _ := newMeter(t, billing.MeterConfig{Budget: billing.BudgetConfig{Store: store}})
	rt := gateway.Chain(canned{name: "up", body: smallReply}, m.Middleware())
	for i := 0; i < 50; i++ {
		resp, _ := call(t, rt, gateway.Caller{KeyID: "k1", Budget: gateway.Budget{Limit: 2 * worst}}, body)
		require.Equal(t, 200, resp.StatusCode, "call %d", i)
	}
}

// A call that fails, or is cancelled mid-stream, releases its hold; a
// failure that consumed nothing spends nothing.
func TestBudgetReleasedOnFailureAndCancel(t *testing.T) {
	caller := gateway.Caller{KeyID: "k1", Budget: gateway.Budget{Limit: 1e12}}
	t.Run("failure", func(t *testing.T) {
		store := billing.NewLocalBudgets()
		m, rec := newMeter(t, billing.MeterConfig{Budget: billing.BudgetConfig{Store: store}})
		reset := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Faults: gatewaytest.Faults{ResetRate: 1}})
		resp, _ := call(t, gateway.Chain(reset, m.Middleware()), caller, chatBody)
		assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
		spent, held := store.Spent("key:k1:all")
		assert.Zero(t, spent)
		assert.Zero(t, held)
		require.Len(t, rec.all(), 1, "the failed attempt is recorded")
		assert.Zero(t, rec.all()[0].Cost)
	})
	t.Run("cancel mid-stream", func(t *testing.T) {
		store := billing.NewLocalBudgets()
		m, _ := newMeter(t, billing.MeterConfig{Budget: billing.BudgetConfig{Store: store}})
		sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 64, TokensPerSecond: 1000})
		ctx, cancel := context.WithCancel(gateway.WithCaller(context.Background(), caller))
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://gw/v1/chat/completions",
			strings.NewReader(strings.Replace(chatBody, `"model"`, `"stream":true,"model"`, 1)))
		resp, err := gateway.NewClient(gateway.Chain(sim, m.Middleware())).Do(req)
		require.NoError(t, err)
		buf := make([]byte, 64)
		_, err = resp.Body.Read(buf)
		require.NoError(t, err)
		_, held := store.Spent("key:k1:all")
		assert.Positive(t, held, "held while the stream runs")
		cancel()
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		spent, held := store.Spent("key:k1:all")
		assert.Zero(t, held)
		assert.Positive(t, spent, "what was delivered is spent")
	})
}

// A refusal is an OpenAI-style 402 with the gateway's error mark, and a
// day budget says when it resets.
func TestBudgetRefusalIsAnOpenAIError(t *testing.T) {
	clk := gatewaytest.NewClock(time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC))
	m, _ := newMeter(t, billing.MeterConfig{Clock: clk, Budget: billing.BudgetConfig{
		Tenants: map[string]gateway.Budget{"acme": {Limit: 1, Period: "day"}}}})
	auth := func(next http.RoundTripper) http.RoundTripper { // stands in for cache.Auth
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			gateway.CallFrom(req.Context()).Caller = gateway.Caller{KeyID: "k1", Tenant: "acme"}
			return next.RoundTrip(req)
		})
	}
	srv := httptest.NewServer(gateway.NewHandler(gateway.Chain(canned{name: "up", body: smallReply}, auth, m.Middleware())))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(chatBody))
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusPaymentRequired, resp.StatusCode)
	assert.Equal(t, "budget_exceeded", resp.Header.Get("X-Llmgate-Error"))
	assert.Equal(t, "21600", resp.Header.Get("Retry-After"), "until midnight UTC")
	var e struct {
		Error struct{ Message, Type, Code string } `json:"error"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	assert.Equal(t, "budget_exceeded", e.Error.Code)
	assert.Equal(t, "insufficient_quota", e.Error.Type)
	assert.Contains(t, e.Error.Message, "tenant acme")
	assert.True(t, errors.Is(gateway.ErrorFromResponse(resp), billing.ErrBudgetExceeded))
}

// A model with no price cannot be held: refused unless AdmitUnpriced.
func TestBudgetUnpricedModel(t *testing.T) {
	body := strings.Replace(chatBody, "gpt-4o", "mystery", 1)
	caller := gateway.Caller{KeyID: "k1", Budget: gateway.Budget{Limit: 1e12}}
	m, _ := newMeter(t, billing.MeterConfig{})
	resp, _ := call(t, gateway.Chain(canned{name: "up", body: smallReply}, m.Middleware()), caller, body)
	assert.Equal(t, http.StatusPaymentRequired, resp.StatusCode)
	assert.True(t, errors.Is(gateway.ErrorFromResponse(resp), billing.ErrUnpricedModel))
	m, rec := newMeter(t, billing.MeterConfig{Budget: billing.BudgetConfig{AdmitUnpriced: true}})
	resp, _ = call(t, gateway.Chain(canned{name: "up", body: smallReply}, m.Middleware()), caller, body)
	assert.Equal(t, 200, resp.StatusCode)
	require.Len(t, rec.all(), 1)
	assert.False(t, rec.all()[0].CostKnown)
}

func TestBudgetConfigValidate(t *testing.T) {
	err := billing.BudgetConfig{Policy: 7, DefaultMaxTokens: -1, ExpectedOutputTokens: -1, HoldTTL: -1, SettleTimeout: -1,
		Tenants: map[string]gateway.Budget{"a": {Limit: 0, Period: "week"}}}.Validate()
	for _, want := range []string{"policy", "DefaultMaxTokens", "ExpectedOutputTokens", "HoldTTL", "SettleTimeout", "positive", "week"} {
		assert.ErrorContains(t, err, want)
	}
	_, err = billing.NewMeter(&records{}, billing.MeterConfig{Budget: billing.BudgetConfig{Policy: 9}})
	assert.Error(t, err)
	_, err = billing.NewMeter(nil, billing.MeterConfig{})
	assert.Error(t, err)
	assert.NoError(t, billing.BudgetConfig{}.Validate())
}
