package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/limiter"
)

// A limits section's mistakes are reported at their keys, all at once; a
// zero limit is one of them, never "unlimited".
func TestConfigLimitsErrors(t *testing.T) {
	err := checkConfig(okProviders+`
limits:
  max_wait: 0s
  time_zone: Mars/Olympus
  rules:
    - {name: a, unit: requests, limit: 0, per: minute}
    - {name: b, unit: requets, limit: 5, per: minute}
    - {name: c, dimensions: [keyid], unit: tokens, limit: 5, per: fortnight}
    - {name: d, unit: requests, limit: 5, per: minute, shared: true}
    - {name: a, unit: requests, limit: 5, per: minute}
`, env{})
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		"t.yaml:7: limits.max_wait: must be positive",
		"t.yaml:8: limits.time_zone: unknown time zone",
		`t.yaml:10: limits.rules[0]: limiter: invalid configuration: rule "a": limit 0`,
		`t.yaml:11: limits.rules[1].unit: limiter: invalid configuration: unknown unit "requets"`,
		`t.yaml:12: limits.rules[2].dimensions[0]: limiter: invalid configuration: unknown dimension "keyid"`,
		`t.yaml:12: limits.rules[2].per: limiter: invalid configuration: unknown period "fortnight"`,
		// What only the set shows is reported at the rule it is about,
		// and a repeated name is found behind the first rule's own
		// mistake.
		`t.yaml:13: limits.rules[3].shared: needs limits.redis (host:port): a shared rule's counts are kept in Redis`,
		`t.yaml:14: limits.rules[4]: limiter: invalid configuration: rule name "a" twice`,
	} {
		assert.Contains(t, msg, want)
	}
	assert.Equal(t, 8, strings.Count(msg, "\n")+1, "each mistake once:\n%s", msg)
	assert.NoError(t, checkConfig(okProviders+`
limits:
  max_body_bytes: 1048576
  time_zone: Europe/Paris
  max_wait: 1s
  rules:
    - {name: key-rpm, dimensions: [key], unit: requests, limit: 60, per: minute, shares: {1: 0.2, 2: 0.3}}
    - {name: tenant-model-tpm, dimensions: [tenant, model], unit: tokens, limit: 100000, per: minute}
    - {name: key-daily, dimensions: [key, model], unit: requests, limit: 1000, per: day}
    - {name: conc, unit: concurrent, limit: 64}
    - {name: account-rpm, dimensions: [target], unit: requests, limit: 500, per: minute}
`, env{}))
}

// A limits.redis that could not be read is reported once, at itself: a
// shared rule is not also told that limits.redis is missing.
func TestLimitsRedisUnreadableIsNotAlsoMissing(t *testing.T) {
	err := checkConfig(okProviders+`
limits:
  redis: {addr: 127.0.0.1:6379}
  rules:
    - {name: a, unit: requests, limit: 5, per: minute, shared: true}
`, env{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "t.yaml:7: limits.redis: ")
	assert.NotContains(t, err.Error(), "needs limits.redis", "%s", err)
	assert.Equal(t, 1, strings.Count(err.Error(), "\n")+1, "%s", err)
}

// The start-up summary tells what a token reservation holds only when a
// rule counts tokens.
func TestPrintLimitsTellsTheReservationOnlyForTokenRules(t *testing.T) {
	for _, tc := range []struct {
		rule limiter.Rule
		want bool
	}{
		{limiter.Rule{Name: "rpm", Unit: limiter.Requests, Limit: 5, Per: limiter.Minute}, false},
		{limiter.Rule{Name: "tpm", Unit: limiter.Tokens, Limit: 5000, Per: limiter.Minute}, true},
	} {
		lim, err := limiter.New(limiter.Config{Rules: []limiter.Rule{tc.rule}})
		require.NoError(t, err)
		var b strings.Builder
		printLimits(&b, lim, &rateLimitsConf{DefaultMaxTokens: 100})
		lim.Close()
		assert.Contains(t, b.String(), tc.rule.Name+": ")
		assert.Equal(t, tc.want, strings.Contains(b.String(), "reserves its prompt + 100 tokens"), b.String())
	}
}
