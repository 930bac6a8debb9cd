package config

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

// Tests run the main job many times: its default usage file goes to a
// temporary directory, not into the source tree.
func init() {
	defaultUsageFile = filepath.Join(os.TempDir(), fmt.Sprintf("llmgate-usage-test-%d.jsonl", os.Getpid()))
}

// Every mistake of the billing section is reported at its key.
func TestBillingConfigMistakes(t *testing.T) {
	const yaml = `providers:
  - {name: s, type: sim}
billing:
  prices_file: /nonexistent/prices.json
  sinks: {jsonl: {path: /nonexistent/dir/usage.jsonl}}
  budgets:
    policy: lenient
    default_max_tokens: 0
    hold_ttl: -1s
    time_zone: Mars/Olympus
    redis: {addr: nohost}
    tenants:
      acme: {limit_usd: 0}
      beta: {limit_usd: 5, period: week}
    keys:
      k1: {limit_usd: -1, period: day}
      k2: {limit_usd: -1, period: week}
`
	err := checkConfig(yaml, env{})
	require.Error(t, err)
	for _, want := range []string{
		"t.yaml:4: billing.prices_file: billing: price file:",
		`t.yaml:5: billing.sinks.jsonl.path: its directory "/nonexistent/dir" does not exist`,
		`t.yaml:7: billing.budgets.policy: unknown policy "lenient": want strict or expected`,
		"t.yaml:8: billing.budgets.default_max_tokens: must be positive (leave it out for the default)",
		"t.yaml:9: billing.budgets.hold_ttl: must be positive (leave it out for the default)",
		`t.yaml:10: billing.budgets.time_zone: unknown time zone "Mars/Olympus"`,
		"t.yaml:11: billing.budgets.redis.addr: want host:port (e.g. 127.0.0.1:6379)",
		"t.yaml:13: billing.budgets.tenants.acme.limit_usd: must be a positive number of dollars",
		`t.yaml:14: billing.budgets.tenants.beta.period: unknown period "week"`,
		"t.yaml:16: billing.budgets.keys.k1.limit_usd: must be a positive number of dollars",
		"t.yaml:17: billing.budgets.keys.k2.limit_usd: must be a positive number of dollars",
		`t.yaml:17: billing.budgets.keys.k2.period: unknown period "week"`, // both of one budget's mistakes
	} {
		assert.Contains(t, err.Error(), want)
	}
}

// Configured key budgets reach callers with none of their own, before the
// Meter, which refuses past them.
func TestBillingKeyBudgetsApply(t *testing.T) {
	cfg, err := Parse("t.yaml", []byte(`providers:
  - {name: sim, type: sim}
billing:
  budgets:
    keys:
      poor: {limit_usd: 0.000000001}
`), env{}.lookup)
	require.NoError(t, err)
	c := newChecker(&cfg.src)
	parts := c.newBilling(&cfg.Billing)
	require.NoError(t, c.err())
	defer parts.Close()
	require.Len(t, parts.mws, 2)
	auth := func(next http.RoundTripper) http.RoundTripper { // stands in for authentication
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			gateway.CallFrom(req.Context()).Caller.KeyID = "poor"
			return next.RoundTrip(req)
		})
	}
	p := unbuilt{}
	h := gateway.NewClient(gateway.Chain(p, append([]gateway.Middleware{auth}, parts.mws...)...))
	resp, err := h.Post("http://gw/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusPaymentRequired, resp.StatusCode)
}
