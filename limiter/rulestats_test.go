package limiter

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// Each refusal is counted against the rule that made it, once, and a rule
// that admitted everything has none; an Update keeping a rule's name keeps
// its count.
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
	assert.Equal(t, []RuleStats{{Name: "all-rpm"}, {Name: "key-rpm", Refused: 3}}, l.RuleStats())
	assert.Equal(t, uint64(3), l.Stats().Refused)

	require.NoError(t, l.Update(rules[1:]))
	do(t, c, gateway.Caller{KeyID: "k1"}, callBody("m", false, 0))
	assert.Equal(t, []RuleStats{{Name: "key-rpm", Refused: 4}}, l.RuleStats())
}
