package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// checkConfig parses and builds a configuration written in t.yaml, as
// -check does, and returns what is wrong with it.
func checkConfig(yaml string, e env) error {
	cfg, err := Parse("t.yaml", []byte(yaml), e.lookup)
	if err != nil {
		return err
	}
	a, err := Build(cfg, Options{})
	if err == nil {
		a.Close()
	}
	return err
}

// env is a fake environment for parseConfig.
type env map[string]string

func (e env) lookup(k string) (string, bool) { v, ok := e[k]; return v, ok }

const okProviders = `
providers:
  - name: a
    type: sim
`

// Each mistake is reported with the file, the line and the key's path, and
// never echoes a value that may be a secret.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown top-level key", "listen: 127.0.0.1:1\nlisen: x\n" + okProviders, "t.yaml:2: lisen: unknown key"},
		{"unknown nested key", "providers:\n  - name: a\n    type: sim\n    sim:\n      faults:\n        eror_rate: 0.5\n",
			"t.yaml:6: providers[0].sim.faults.eror_rate: unknown key"},
		{"unknown key in a flow mapping", okProviders + "router:\n  targets:\n    - {provider: a, wieght: 2}\n",
			"t.yaml:7: router.targets[0].wieght: unknown key"},
		{"wrong type", okProviders + "router:\n  targets:\n    - {provider: a, weight: heavy}\n",
			"t.yaml:7: router.targets[0].weight: want an int, got a string"},
		{"bad duration", okProviders + "retry: {max_attempts: 2, base_delay: 5x}\n",
			"t.yaml:5: retry.base_delay: want a duration"},
		{"list for a mapping", okProviders + "router: [a]\n", "t.yaml:5: router: want a mapping, got a list"},
		{"duplicate key", okProviders + "retry: {max_attempts: 2}\nretry: {max_attempts: 3}\n", `t.yaml:6: mapping key "retry" already defined at line 5`},
		{"syntax error", "providers: [\n", "t.yaml:1: did not find expected node content"},
		{"empty file", "# nothing\n", "t.yaml:1: the configuration is empty"},
		{"two documents", okProviders + "---\nlisten: x\n", "more than one YAML document"},
		{"no providers", "listen: 127.0.0.1:1\n", "t.yaml:1: providers: at least one provider is required"},
		{"bad listen", "listen: localhost\n" + okProviders, "t.yaml:1: listen: want host:port"},
		// A port no listener or dialer takes is the file's mistake, found
		// by -check, not at start-up (or at the first dial).
		{"listen port out of range", "listen: 127.0.0.1:99999\n" + okProviders, `t.yaml:1: listen: its port must be a number up to 65535 or a service name`},
		{"admin port out of range", okProviders + "admin: {listen: 127.0.0.1:70000}\n", `t.yaml:5: admin.listen: its port must be a number up to 65535 or a service name`},
		{"budgets redis port", okProviders + "billing: {budgets: {redis: {addr: 127.0.0.1:-1}}}\n", `t.yaml:5: billing.budgets.redis.addr: its port must be a number up to 65535 or a service name`},
		{"keys redis port", okProviders + "keys: {redis: {addr: 127.0.0.1:637900}}\n", `t.yaml:5: keys.redis.addr: its port must be a number up to 65535 or a service name`},
		{"keys redis not host:port", okProviders + "keys: {redis: {addr: redis}}\n", `t.yaml:5: keys.redis.addr: want host:port (e.g. 127.0.0.1:6379)`},
		{"tracing port", okProviders + "tracing: {endpoint: 127.0.0.1:99999}\n", `t.yaml:5: tracing.endpoint: its port must be a number up to 65535 (the exporter puts it in a URL)`},
		// The exporter builds a URL of the endpoint, which takes no
		// service name.
		{"tracing service name", okProviders + "tracing: {endpoint: 127.0.0.1:http}\n", `t.yaml:5: tracing.endpoint: its port must be a number up to 65535 (the exporter`},
		{"limits redis port", okProviders + "limits:\n  redis: 127.0.0.1:99999\n  rules:\n    - {name: d, unit: requests, limit: 5, per: minute, shared: true}\n",
			`t.yaml:6: limits.redis: its port must be a number up to 65535 or a service name`},
		{"missing base_url", "providers:\n  - name: a\n    type: openai\n    api_key: sk-1\n", "t.yaml:2: providers[0].base_url: is required"},
		{"relative base_url", "providers:\n  - name: a\n    type: openai\n    base_url: api.openai.com/v1\n",
			"t.yaml:4: providers[0].base_url: provider: a: BaseURL must be an absolute http or https URL"},
		{"key in base_url", "providers:\n  - name: a\n    type: openai\n    base_url: https://x/v1?key=${KEY}\n",
			"t.yaml:4: providers[0].base_url: provider: a: BaseURL must not hold a query"},
		{"header the provider sets", "providers:\n  - name: a\n    type: openai\n    base_url: https://x/v1\n    headers: {Authorization: $KEY}\n",
			"t.yaml:5: providers[0].headers.Authorization: provider: a: Headers: Authorization is set by the provider"},
		{"missing name", "providers:\n  - type: sim\n", "t.yaml:2: providers[0].name: is required"},
		{"missing type", "providers:\n  - name: a\n", "t.yaml:2: providers[0].type: is required: openai, azure, anthropic, gemini or sim"},
		{"unknown type", "providers:\n  - name: a\n    type: cohere\n", `t.yaml:3: providers[0].type: unknown type "cohere"`},
		{"duplicate provider", okProviders + "  - name: a\n    type: sim\n", `t.yaml:5: providers[1].name: duplicate provider name "a"`},
		{"azure without api_version", "providers:\n  - name: az\n    type: azure\n    base_url: https://x.openai.azure.com\n",
			"t.yaml:2: providers[0].azure.api_version: is required for type azure"},
		{"azure options on openai", "providers:\n  - name: a\n    type: openai\n    base_url: https://x/v1\n    azure: {api_version: v}\n",
			"t.yaml:5: providers[0].azure: only a provider of type azure takes azure options"},
		{"key on a sim", "providers:\n  - name: a\n    type: sim\n    api_key: sk-1\n", "t.yaml:4: providers[0].api_key: is not used by a provider of type sim"},
		{"sim options on openai", "providers:\n  - name: a\n    type: openai\n    base_url: https://x/v1\n    sim: {seed: 1}\n",
			"t.yaml:5: providers[0].sim: only a provider of type sim takes sim options"},
		{"fault rate", "providers:\n  - name: a\n    type: sim\n    sim:\n      faults: {error_rate: 1.5}\n",
			"t.yaml:5: providers[0].sim.faults: gatewaytest: sim fault ErrorRate 1.5 outside [0,1]"},
		{"fault status", "providers:\n  - name: a\n    type: sim\n    sim:\n      faults:\n        error_statuses: [503, 200]\n",
			"t.yaml:5: providers[0].sim.faults: gatewaytest: sim error status 200 outside 400–599"},
		{"negative latency", "providers:\n  - name: a\n    type: sim\n    sim: {latency: -1s}\n", "t.yaml:2: providers[0]: gatewaytest: negative sim latency"},
		{"zero completion tokens", "providers:\n  - name: a\n    type: sim\n    sim: {completion_tokens: 0}\n",
			"t.yaml:4: providers[0].sim.completion_tokens: must be positive"},
		{"empty model", "providers:\n  - name: a\n    type: sim\n    models: [m, \"\"]\n", "t.yaml:2: providers[0]: gatewaytest: empty model name in sim"},
		{"empty model of openai", "providers:\n  - name: a\n    type: openai\n    base_url: https://x/v1\n    models: [\"\"]\n",
			"t.yaml:5: providers[0].models: provider: a: Models holds an empty name"},
		{"unknown provider in target", okProviders + "router:\n  targets:\n    - provider: b\n",
			`t.yaml:7: router.targets[0].provider: unknown provider "b"`},
		{"target without provider", okProviders + "router:\n  targets:\n    - weight: 2\n", "t.yaml:7: router.targets[0].provider: is required"},
		{"zero weight", okProviders + "router:\n  targets:\n    - provider: a\n      weight: 0\n",
			"t.yaml:8: router.targets[0].weight: must be positive (leave it out for the default)"},
		{"weight too large", okProviders + "router:\n  targets:\n    - provider: a\n      weight: 2000000\n",
			`t.yaml:7: router.targets[0]: router: invalid configuration: target "a" has weight 2000000; weights must be in 1..1000000`},
		{"negative tier", okProviders + "router:\n  targets:\n    - provider: a\n      tier: -1\n",
			`t.yaml:7: router.targets[0]: router: invalid configuration: target "a" has negative tier -1`},
		{"duplicate target", okProviders + "router:\n  targets:\n    - provider: a\n    - provider: a\n",
			`t.yaml:8: router.targets[1].name: duplicate target name "a"`},
		{"pattern as model sent", okProviders + "router:\n  targets:\n    - provider: a\n      model_map: {gpt-4: \"gpt-*\"}\n",
			`t.yaml:7: router.targets[0]: router: invalid configuration: target "a" maps "gpt-4" to "gpt-*"; both must be non-empty, and the model sent cannot hold '*'`},
		{"zero breaker threshold", okProviders + "router:\n  targets:\n    - provider: a\n      breaker:\n        failure_threshold: 0\n",
			"t.yaml:9: router.targets[0].breaker.failure_threshold: must be positive"},
		{"breaker successes above probes", okProviders + "router:\n  targets:\n    - provider: a\n      breaker: {half_open_probes: 2, success_threshold: 3}\n",
			"t.yaml:8: router.targets[0].breaker: breaker: Config.SuccessThreshold 3 is above HalfOpenProbes 2"},
		{"breaker rate", okProviders + "router:\n  targets:\n    - provider: a\n      breaker: {failure_rate_threshold: 1.5}\n",
			"t.yaml:8: router.targets[0].breaker: breaker: Config.FailureRateThreshold 1.5 is not in (0, 1]"},
		{"zero breaker cooldown", okProviders + "router:\n  targets:\n    - provider: a\n      breaker: {cooldown: 0s}\n",
			"t.yaml:8: router.targets[0].breaker.cooldown: must be positive"},
		{"negative breaker max_retry_after", okProviders + "router:\n  targets:\n    - provider: a\n      breaker: {max_retry_after: -1m}\n",
			"t.yaml:8: router.targets[0].breaker.max_retry_after: must be positive"},
		{"unknown strategy", okProviders + "router:\n  strategy: fastest\n", `t.yaml:6: router.strategy: router: unknown strategy "fastest"`},
		{"budget ratio", okProviders + "router:\n  budget:\n    ratio: 1.5\n", "t.yaml:6: router.budget: breaker: invalid BudgetConfig: Ratio 1.5 must be in (0, 1]"},
		{"zero budget ratio", okProviders + "router:\n  budget:\n    ratio: 0\n", "t.yaml:7: router.budget.ratio: must be positive"},
		{"router.cooldown moved", okProviders + "router:\n  cooldown: 2s\n",
			"t.yaml:6: router.cooldown: unknown key (moved to router.targets[].breaker.cooldown)"},
		{"router.cooldown_ceiling moved", okProviders + "router: {cooldown_ceiling: 1m}\n",
			"t.yaml:5: router.cooldown_ceiling: unknown key (moved to router.targets[].breaker.max_retry_after)"},
		{"retry.max_retry_after removed", okProviders + "retry:\n  max_retry_after: 1m\n",
			"t.yaml:6: retry.max_retry_after: unknown key (removed: a Retry-After is waited unless it passes retry.deadline"},
		{"zero max_attempts", okProviders + "retry:\n  max_attempts: 0\n", "t.yaml:6: retry.max_attempts: must be positive (leave it out for the default)"},
		{"max_delay below base_delay", okProviders + "retry:\n  base_delay: 2s\n  max_delay: 1s\n", "t.yaml:5: retry: breaker: invalid RetryConfig: MaxDelay 1s < BaseDelay 2s"},
		{"negative timeout", okProviders + "timeouts:\n  idle: -5s\n", "t.yaml:6: timeouts.idle: must be positive"},
		{"zero body limit", "limits:\n  max_body_bytes: 0\n" + okProviders, "t.yaml:2: limits.max_body_bytes: must be positive"},
		{"unset variable", "providers:\n  - name: a\n    type: openai\n    base_url: https://x/v1\n    api_key: ${NOPE}\n",
			"t.yaml:5: providers[0].api_key: environment variable NOPE is not set"},
		{"unterminated variable", "providers:\n  - name: a\n    type: openai\n    base_url: https://x/v1\n    api_key: ${KEY\n",
			"t.yaml:5: providers[0].api_key: unterminated or empty ${...}"},
		{"variable in a number", okProviders + "router:\n  targets:\n    - provider: a\n      weight: ${KEY}\n",
			"t.yaml:8: router.targets[0].weight: want an int, got a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkConfig(tc.yaml, env{"KEY": "sk-secret-value"})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "sk-secret-value")
		})
	}
}

// Every error is reported at once, in the order of the file, each at its
// key's line: the schema's own mistakes, and in the same run what only a
// library finds (its Validate, or its constructor), in every section and
// for every provider and target, not only the first.
func TestConfigErrorsAllReported(t *testing.T) {
	const yaml = `providers:
  - name: a
    type: openai
  - name: a
    type: sim
    sim:
      faults: {error_rate: 2, cut_rate: -1}
  - name: o
    type: openai
    base_url: https://x/v1
    headers: {Authorization: "${KEY}"}
  - {name: s, type: sim}
router:
  budget: {ratio: 1.5}
  targets:
    - provider: s
      weight: 2000000
      breaker: {half_open_probes: 2, success_threshold: 3}
    - provider: nope
retry: {max_attempts: 0, base_delay: 2s, max_delay: 1s}
timeouts: {idle: -1s}
`
	err := checkConfig(yaml, env{"KEY": "sk-secret-value"})
	require.Error(t, err)
	assert.Equal(t, "t.yaml:2: providers[0].base_url: is required\n"+
		"t.yaml:4: providers[1].name: duplicate provider name \"a\"\n"+
		"t.yaml:7: providers[1].sim.faults: gatewaytest: sim fault ErrorRate 2 outside [0,1]\n"+
		"t.yaml:7: providers[1].sim.faults: gatewaytest: sim fault CutRate -1 outside [0,1]\n"+
		"t.yaml:11: providers[2].headers.Authorization: provider: o: Headers: Authorization is set by the provider and may not be configured\n"+
		"t.yaml:14: router.budget: breaker: invalid BudgetConfig: Ratio 1.5 must be in (0, 1], MinRetries 0 not negative, Window 0s positive\n"+
		"t.yaml:16: router.targets[0]: router: invalid configuration: target \"s\" has weight 2000000; weights must be in 1..1000000\n"+
		"t.yaml:18: router.targets[0].breaker: breaker: Config.SuccessThreshold 3 is above HalfOpenProbes 2\n"+
		"t.yaml:19: router.targets[1].provider: unknown provider \"nope\"\n"+
		"t.yaml:20: retry.max_attempts: must be positive (leave it out for the default)\n"+
		"t.yaml:20: retry: breaker: invalid RetryConfig: MaxDelay 1s < BaseDelay 2s\n"+
		"t.yaml:21: timeouts.idle: must be positive (leave it out for the default)", err.Error())
	assert.NotContains(t, err.Error(), "sk-secret-value")
}

// Variables are expanded in string values only: never in keys, never into
// YAML structure; $$ is a literal $ and a $ that names no variable stays.
func TestConfigEnvExpansion(t *testing.T) {
	e := env{"KEY": "sk-from-env", "HOST": "api.example.com", "ORG": "org-1", "TRICK": "x\n  injected: [1", "EMPTY": ""}
	cfg, err := Parse("t.yaml", []byte(`
providers:
  - name: a
    type: openai
    base_url: https://${HOST}/v1
    api_key: $KEY
    headers:
      OpenAI-Organization: ${ORG}
      X-Literal: "price $$5 pa$!ss"
      X-Trick: ${TRICK}
      X-Empty: "${EMPTY}"
      ${ORG}: name-kept
`), e.lookup)
	require.NoError(t, err)
	p := cfg.Providers[0]
	assert.Equal(t, "https://api.example.com/v1", p.BaseURL)
	assert.Equal(t, "sk-from-env", p.APIKey)
	assert.Equal(t, map[string]string{
		"OpenAI-Organization": "org-1",
		"X-Literal":           "price $5 pa$!ss",
		"X-Trick":             "x\n  injected: [1", // a string, not YAML
		"X-Empty":             "",
		"${ORG}":              "name-kept", // keys are not expanded
	}, p.Headers)
}

// The shipped example loads and builds with its variables set.
func TestExampleConfigBuilds(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-test-openai-0000")
	t.Setenv("AZURE_OPENAI_API_KEY", "test-azure-key-0000")
	t.Setenv("AZURE_OPENAI_ENDPOINT", "https://example.openai.azure.com")
	cfg, err := Load("../examples/gateway/gateway.example.yaml", os.LookupEnv)
	require.NoError(t, err)
	assert.Equal(t, "sk-test-openai-0000", cfg.Providers[0].APIKey)
	assert.Equal(t, 30*time.Second, cfg.ShutdownTimeout)
	a, err := Build(cfg, Options{})
	require.NoError(t, err)
	defer a.Close()
	assert.Equal(t, []string{"openai", "openai-canary", "azure", "local"}, a.router.Targets())
	assert.Equal(t, []string{"gpt-4.1", "gpt-4o-mini", "llama3.1:8b"}, a.router.Models())
}

// The embedded default is a configuration like any other.
func TestEmbeddedConfigBuilds(t *testing.T) {
	cfg, err := Parse(EmbeddedName, []byte(Embedded), env{}.lookup)
	require.NoError(t, err)
	a, err := Build(cfg, Options{})
	require.NoError(t, err)
	defer a.Close()
	assert.Equal(t, []string{"sim-a", "sim-b", "sim-backup"}, a.router.Targets())
	for name, reply := range simReplies {
		found := false
		for _, p := range cfg.Providers {
			if p.Name == name {
				found = true
				assert.Equal(t, len(strings.Fields(reply)), p.Sim.CompletionTokens, "%s replies with its whole text once", name)
			}
		}
		assert.True(t, found, name)
	}
}

// Without router.targets, every provider is a target of weight 1 in tier 0.
func TestConfigDefaultTargets(t *testing.T) {
	cfg, err := Parse("t.yaml", []byte(okProviders+"  - name: b\n    type: sim\n"), env{}.lookup)
	require.NoError(t, err)
	a, err := Build(cfg, Options{})
	require.NoError(t, err)
	defer a.Close()
	assert.Equal(t, []string{"a", "b"}, a.router.Targets())
}

// The YAML example in README.md is a valid configuration.
func TestReadmeConfigExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, block, ok := strings.Cut(string(readme), "```yaml\n")
	require.True(t, ok, "README.md has a yaml block")
	block, _, ok = strings.Cut(block, "```")
	require.True(t, ok)
	cfg, err := Parse("README.md", []byte(block), env{"OPENAI_API_KEY": "sk-test-0000000000"}.lookup)
	require.NoError(t, err)
	a, err := Build(cfg, Options{})
	require.NoError(t, err)
	defer a.Close()
	assert.Equal(t, []string{"openai", "local"}, a.router.Targets())
}

// A port is a number up to 65535 or a service name; an empty one is the
// listener's or the client's to choose.
func TestPortProblem(t *testing.T) {
	for _, ok := range []string{"", "0", "8080", "65535", "http"} {
		assert.Empty(t, portProblem(ok, true), "%q", ok)
	}
	for _, bad := range []string{"65536", "99999", "-1", "80x", "no-such-service-name"} {
		assert.NotEmpty(t, portProblem(bad, true), "%q", bad)
	}
	assert.NotEmpty(t, portProblem("http", false), "a service name where a number is wanted")
	assert.Empty(t, portProblem("4318", false))
	require.NoError(t, checkConfig(okProviders+"listen: 127.0.0.1:8080\nadmin: {listen: 127.0.0.1:0}\ntracing: {endpoint: https://collector/v1/traces}\n", env{}))
	require.ErrorContains(t, checkConfig(okProviders+"tracing: {endpoint: https://collector:99999/v1/traces}\n", env{}),
		"t.yaml:5: tracing.endpoint: its port must be a number up to 65535")
}
