package metrics_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/metrics"
)

// runSequence sends the known sequence: a success, a fallback (the primary
// answers 503), a call to a limited model and a second one the limiter
// refuses, a cacheable call twice (a miss, then a hit), and a stream.
func runSequence(t *testing.T, f *fixture) {
	t.Helper()
	steps := []struct {
		name, body string
		status     int
		before     func()
	}{
		{"success", chat("gpt-4.1", ""), 200, nil},
		{"fallback", chat("gpt-4.1", ""), 200, func() {
			require.NoError(t, f.primary.SetFaults(gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{503}}))
		}},
		{"limited", chat("limited", ""), 200, func() { require.NoError(t, f.primary.SetFaults(gatewaytest.Faults{})) }},
		{"refused", chat("limited", ""), 429, nil},
		{"cache miss", chat("gpt-4.1", `,"temperature":0`), 200, nil},
		{"cache hit", chat("gpt-4.1", `,"temperature":0`), 200, nil},
		{"stream", chat("gpt-4.1", `,"stream":true`), 200, nil},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		status, body := f.post(s.body)
		require.Equal(t, s.status, status, "%s: %s", s.name, body)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Len(t, f.calls, len(steps), "every call observed")
}

// The metrics after a known sequence of calls through a real server chain
// are exact: counts, label values, and durations on the fake clock.
func TestMetricValuesExactAfterAKnownSequence(t *testing.T) {
	f := newFixture(t, metrics.Config{Models: []string{"gpt-4.1"}})
	runSequence(t, f)

	assert.Equal(t, map[string]float64{
		"outcome=ok,status=200":        5,
		"outcome=refused,status=429":   1,
		"outcome=cache_hit,status=200": 1,
	}, family(t, f.reg, "llmgate_calls_total"))
	assert.Equal(t, map[string]float64{
		"outcome=ok,target=openai":  4,
		"outcome=503,target=openai": 1,
		"outcome=ok,target=backup":  1,
	}, family(t, f.reg, "llmgate_attempts_total"))
	assert.Equal(t, map[string]float64{"target=backup": 1}, family(t, f.reg, "llmgate_fallbacks_total"))
	assert.Empty(t, family(t, f.reg, "llmgate_retries_total"))
	assert.Empty(t, family(t, f.reg, "llmgate_hedges_total"))
	assert.Equal(t, map[string]float64{"result=hit": 1, "result=miss": 1, "result=shared": 0},
		family(t, f.reg, "llmgate_response_cache_total"))
	assert.Equal(t, map[string]float64{"rule=limited-rpm": 1}, family(t, f.reg, "llmgate_limiter_refused_total"))
	// Only the calls a rule applies to are decided: the two "limited" ones,
	// the first admitted by the rule.
	assert.Equal(t, map[string]float64{"rule=limited-rpm": 1}, family(t, f.reg, "llmgate_limiter_admitted_total"))

	// Durations on the fake clock: 100ms to an answer, 50ms more to the
	// first read of its body (a stream's first chunk); the fallback took a
	// 503 (its body never read) and an answer.
	const (
		gen  = "gen_ai_operation_name=chat,gen_ai_provider_name="
		four = ",gen_ai_request_model=gpt-4.1,gen_ai_response_model=gpt-4.1"
	)
	dur := family(t, f.reg, "gen_ai_client_operation_duration_seconds")
	want := map[string]float64{
		gen + "openai" + four + " count":                                                  3, // success, cache miss, stream
		gen + "openai" + four + " sum":                                                    3 * 0.15,
		gen + "backup" + four + " count":                                                  1,
		gen + "backup" + four + " sum":                                                    0.1 + 0.15,
		gen + "openai,gen_ai_request_model=other,gen_ai_response_model=other count":       1, // "limited" is not configured
		gen + "openai,gen_ai_request_model=other,gen_ai_response_model=other sum":         0.15,
		"error_type=rate_limit_exceeded," + gen + "none,gen_ai_request_model=other count": 1,
		"error_type=rate_limit_exceeded," + gen + "none,gen_ai_request_model=other sum":   0,
		gen + "none,gen_ai_request_model=gpt-4.1 count":                                   1, // the cache hit
		gen + "none,gen_ai_request_model=gpt-4.1 sum":                                     0,
	}
	assertClose(t, want, dur)
	assertClose(t, map[string]float64{gen + "openai" + four + " count": 1, gen + "openai" + four + " sum": 0.15},
		family(t, f.reg, "gen_ai_client_operation_time_to_first_chunk_seconds"))

	// Tokens: what the calls' usage says, by type; the output exactly the
	// simulators' replies (5 tokens from openai, 7 from backup).
	var in float64
	f.mu.Lock()
	for _, c := range f.calls {
		if target, _ := c.Served(); target != "" {
			u, ok := c.Usage()
			require.True(t, ok)
			in += float64(u.PromptTokens)
		}
	}
	f.mu.Unlock()
	tok := family(t, f.reg, "gen_ai_client_token_usage")
	sum := func(tokType string) (n, s float64) {
		for k, v := range tok {
			if contains(k, "gen_ai_token_type="+tokType) {
				if contains(k, " count") {
					n += v
				} else {
					s += v
				}
			}
		}
		return n, s
	}
	n, s := sum("output")
	assert.Equal(t, 5.0, n, "five calls were served by a provider")
	assert.Equal(t, 4*5.0+7, s)
	n, s = sum("input")
	assert.Equal(t, 5.0, n)
	assert.Equal(t, in, s)
	assert.Equal(t, 7.0, tok[gen+"backup"+four+",gen_ai_token_type=output sum"])

	// Cost: what the Meter's records say, to the nano-dollar.
	f.closePipeline()
	var nano int64
	f.mu.Lock()
	for _, r := range f.records {
		nano += r.Cost
	}
	records := len(f.records)
	f.mu.Unlock()
	assert.Equal(t, 6, records, "one record per attempt that reached a provider")
	var usd float64
	for _, v := range family(t, f.reg, "llmgate_cost_usd_total") {
		usd += v
	}
	assert.InDelta(t, float64(nano)/1e9, usd, 1e-12)
	assert.Positive(t, usd, "gpt-4.1 has a price")
	assert.Equal(t, map[string]float64{"model=other,target=openai": 1}, family(t, f.reg, "llmgate_cost_unknown_records_total"),
		`"limited" has no price`)

	// Components read at scrape time.
	assert.Equal(t, map[string]float64{"": 6}, family(t, f.reg, "llmgate_billing_records_total"))
	assert.Equal(t, map[string]float64{"": 0}, family(t, f.reg, "llmgate_billing_calls_open"), "every call has ended")
	assert.Equal(t, map[string]float64{"sink=test": 6}, family(t, f.reg, "llmgate_usage_sink_written_total"))
	assert.Equal(t, map[string]float64{"": 0}, family(t, f.reg, "llmgate_usage_pipeline_depth"))
	assert.Equal(t, map[string]float64{"cache=responses": 1}, family(t, f.reg, "llmgate_response_cache_entries"))
	assert.Equal(t, map[string]float64{"cache=keys": 1}, family(t, f.reg, "llmgate_cache_loads_total"))
	assert.Equal(t, map[string]float64{"cache=keys": 1}, family(t, f.reg, "llmgate_cache_hits_total"))
	assert.Equal(t, map[string]float64{"tenant=acme": 2}, family(t, f.reg, "llmgate_budget_limit_usd"))
	assert.Equal(t, map[string]float64{"tenant=acme": 2}, family(t, f.reg, "llmgate_budget_remaining_usd"))
	assert.Equal(t, map[string]float64{"": 0}, family(t, f.reg, "llmgate_budget_read_errors_total"))
	assert.Equal(t, map[string]float64{
		"state=closed,target=openai": 1, "state=open,target=openai": 0, "state=half-open,target=openai": 0,
		"state=closed,target=backup": 1, "state=open,target=backup": 0, "state=half-open,target=backup": 0,
	}, family(t, f.reg, "llmgate_breaker_state"))
}

func contains(s, sub string) bool { return len(sub) <= len(s) && indexOf(s, sub) >= 0 }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// assertClose compares sample maps, allowing floating-point rounding in
// sums.
func assertClose(t *testing.T, want, got map[string]float64) {
	t.Helper()
	if !assert.Equal(t, len(want), len(got), "got %v", got) {
		return
	}
	for k, v := range want {
		g, ok := got[k]
		if assert.True(t, ok, "missing %s in %v", k, got) {
			assert.True(t, math.Abs(g-v) < 1e-9, "%s: want %v, got %v", k, v, g)
		}
	}
}
