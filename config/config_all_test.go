package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// No mistake hides another, and each is reported once, at its own key: a
// value of the wrong type, an unknown key or an unset variable stops nothing
// (and the key whose value could not be read is not blamed again for being
// empty); every part of a provider is checked, every entry of its headers on
// its own; a key the schema refuses is not compared by a library with
// another key (half_open_probes with success_threshold, max_delay with
// base_delay), which would blame that other key.
func TestConfigMistakesHideNoOther(t *testing.T) {
	const yaml = `listen: nohost
lisen: x
providers:
  - name: o
    type: openai
    base_url: ftp://x
    models: [""]
    headers:
      Host: h
      Authorization: "${KEY}"
      X-Ok: fine
  - name: e
    type: openai
    base_url: ${NOPE}
    headers: {"X-Bad Name": v}
  - {name: s, type: sim, sim: {completion_tokens: many}}
router:
  targets:
    - provider: s
      weight: heavy
      breaker: {half_open_probes: -1, success_threshold: 2}
      tier: -2
retry: {max_attempts: 0, max_delay: -1s, base_delay: 20s}
timeouts: {idle: -1s}
hedge: {percentile: 2}
`
	err := checkConfig(yaml, env{"KEY": "sk-secret-value"})
	require.Error(t, err)
	assert.Equal(t, strings.Join([]string{
		"t.yaml:1: listen: want host:port (e.g. 127.0.0.1:8080)",
		"t.yaml:2: lisen: unknown key",
		"t.yaml:6: providers[0].base_url: provider: o: BaseURL must be an absolute http or https URL",
		"t.yaml:7: providers[0].models: provider: o: Models holds an empty name",
		"t.yaml:9: providers[0].headers.Host: provider: o: Headers: Host is set by the provider and may not be configured",
		"t.yaml:10: providers[0].headers.Authorization: provider: o: Headers: Authorization is set by the provider and may not be configured",
		"t.yaml:14: providers[1].base_url: environment variable NOPE is not set",
		`t.yaml:15: providers[1].headers.X-Bad Name: provider: e: Headers: invalid header name "X-Bad Name"`,
		"t.yaml:16: providers[2].sim.completion_tokens: want an int, got a string",
		`t.yaml:19: router.targets[0]: router: invalid configuration: target "s" has negative tier -2`,
		"t.yaml:20: router.targets[0].weight: want an int, got a string",
		"t.yaml:21: router.targets[0].breaker.half_open_probes: must be positive (leave it out for the default)",
		"t.yaml:23: retry.max_attempts: must be positive (leave it out for the default)",
		"t.yaml:23: retry.max_delay: must be positive (leave it out for the default)",
		"t.yaml:24: timeouts.idle: must be positive (leave it out for the default)",
		"t.yaml:25: hedge.percentile: must be below 1 (0.99 hedges the slowest 1% of attempts)",
	}, "\n"), err.Error())
	assert.NotContains(t, err.Error(), "sk-secret-value")
}

// A provider missing what its type requires is still checked for the rest.
func TestConfigProviderCheckedWhateverIsMissing(t *testing.T) {
	err := checkConfig("providers:\n  - name: a\n    type: openai\n    headers: {Host: h}\n    models: [\"\"]\n"+
		"  - type: sim\n    sim: {latency: -1s}\n", env{})
	require.Error(t, err)
	assert.Equal(t, strings.Join([]string{
		"t.yaml:2: providers[0].base_url: is required",
		"t.yaml:4: providers[0].headers.Host: provider: a: Headers: Host is set by the provider and may not be configured",
		"t.yaml:5: providers[0].models: provider: a: Models holds an empty name",
		"t.yaml:6: providers[1].name: is required",
		"t.yaml:6: providers[1]: gatewaytest: negative sim latency (Latency -1s, TTFT 0s)",
	}, "\n"), err.Error())
}

// Regression: hedge.disable left a nil middleware in each target, which the
// router refuses: the main job would not start with hedging off.
func TestConfigHedgeDisableBuilds(t *testing.T) {
	require.NoError(t, checkConfig("providers:\n  - {name: s, type: sim}\nhedge: {disable: true}\n", env{}))
	require.NoError(t, checkConfig("providers:\n  - {name: s, type: sim}\nhedge: {no_cut: true, cut_after: 3}\n", env{}))
}
