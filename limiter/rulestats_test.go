package limiter

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// Each refusal is counted against the rule that made it, once, and a rule
// that admitted everything has none; an admission is counted on every rule
// that applied, only once every one admitted the call; an Update keeping a
// rule's name keeps its counts.
func TestRuleStatsCountRefusalsByTheRuleThatRefused(t *testing.T) {
	clk := gatewaytest.NewClock(t0)
	rules := []Rule{
		{Name: "all-rpm", Unit: Requests, Limit: 100, Per: Minute},
		{Name: "key-rpm", Dimensions: []Dimension{KeyID}, Unit: Requests, Limit: 2, Per: Minute},
	}
	l := newTestLimiter(t, clk, rules...)
	c := client(l, sim(gatewaytest.SimConfig{}))
	for range 5 {
		do(t, c, gateway.Caller{KeyID: "k1"}, callBody("m", false, 0))
	}
	assert.Equal(t, []RuleStats{{Name: "all-rpm", Admitted: 2}, {Name: "key-rpm", Admitted: 2, Refused: 3}}, l.RuleStats(),
		"the three calls key-rpm refused are admits on neither rule")
	assert.Equal(t, uint64(3), l.Stats().Refused)

	require.NoError(t, l.Update(rules[1:]))
	do(t, c, gateway.Caller{KeyID: "k1"}, callBody("m", false, 0))
	assert.Equal(t, []RuleStats{{Name: "key-rpm", Admitted: 2, Refused: 4}}, l.RuleStats())
}

// Admits are counted by rule only on the rules that applied: a rule for
// another model, and a token rule on a call that spends no tokens, count
// nothing; a rule keyed on Target counts the attempts its Target
// middleware admitted. Exact after a known sequence.
func TestRuleStatsCountAdmitsOnlyOnTheRulesThatApplied(t *testing.T) {
	clk := gatewaytest.NewClock(t0)
	l := newTestLimiter(t, clk,
		Rule{Name: "all-rpm", Unit: Requests, Limit: 100, Per: Minute},
		Rule{Name: "big-rpm", Models: []string{"big-*"}, Unit: Requests, Limit: 1, Per: Minute},
		Rule{Name: "tpm", Unit: Tokens, Limit: 1 << 20, Per: Minute},
		Rule{Name: "account", Dimensions: []Dimension{Target}, Unit: Requests, Limit: 100, Per: Minute},
	)
	c := client(l, sim(gatewaytest.SimConfig{}))
	caller := gateway.Caller{KeyID: "k1"}
	for _, model := range []string{"small", "small", "big-1", "big-1"} {
		do(t, c, caller, callBody(model, false, 10))
	}
	models := func() {
		ctx := gateway.WithCaller(context.Background(), caller)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://gw.invalid/v1/models", nil)
		require.NoError(t, err)
		resp, err := c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	models() // spends no tokens: tpm does not apply

	at := gateway.NewClient(gateway.Chain(sim(gatewaytest.SimConfig{}), l.Target("a")))
	for range 3 {
		do(t, at, caller, callBody("small", false, 10))
	}
	assert.Equal(t, []RuleStats{
		{Name: "account", Admitted: 3},
		{Name: "all-rpm", Admitted: 4},
		{Name: "big-rpm", Admitted: 1, Refused: 1},
		{Name: "tpm", Admitted: 3},
	}, l.RuleStats())
	assert.Equal(t, uint64(4+3), l.Stats().Admitted, "calls admitted in Middleware and attempts at the target")
}

// Past the 64 rules a decision tracks in its bit set, the rules that
// applied are still counted, and only they.
func TestRuleStatsCountAdmitsPastSixtyFourRules(t *testing.T) {
	var rules []Rule
	for i := range 70 {
		r := Rule{Name: fmt.Sprintf("r%02d", i), Unit: Requests, Limit: 100, Per: Minute}
		if i%2 == 1 {
			r.Models = []string{"other"}
		}
		rules = append(rules, r)
	}
	l := newTestLimiter(t, gatewaytest.NewClock(t0), rules...)
	c := client(l, sim(gatewaytest.SimConfig{}))
	require.Equal(t, 200, do(t, c, gateway.Caller{KeyID: "k1"}, callBody("m", false, 0)).status)
	stats := l.RuleStats()
	require.Len(t, stats, 70)
	for i, s := range stats {
		assert.Equal(t, uint64(1-i%2), s.Admitted, s.Name)
	}
}
