package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/cache"
)

// The keys section's mistakes are reported at their keys, and none echoes
// an admin key or a DSN.
func TestConfigKeysErrors(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown store", "keys: {store: disk}\n", "keys.store: unknown store \"disk\""},
		{"bad digest", "keys:\n  memory:\n    - {id: a, digest: nope, tenant: t}\n", "keys.memory[0].digest: want sha256:"},
		{"bad key", "keys:\n  memory:\n    - {id: \"\", digest: \"" + cache.DigestOf("x").String() + "\", priority: 7}\n", "keys.memory[0]: cache: key id"},
		{"bad ip", "keys:\n  memory:\n    - {id: a, digest: \"" + cache.DigestOf("x").String() + "\", ips: [nowhere]}\n", "keys.memory[0].ips[0]: want an address"},
		{"zero budget", "keys:\n  memory:\n    - {id: a, digest: \"" + cache.DigestOf("x").String() + "\", budget: {limit_usd: 0}}\n", "keys.memory[0].budget.limit_usd: must be positive"},
		{"taken digest", "keys:\n  memory:\n    - {id: a, digest: \"" + cache.DigestOf("x").String() + "\"}\n    - {id: b, digest: \"" + cache.DigestOf("x").String() + "\"}\n", "keys.memory: key 1 (\"b\")"},
		{"short admin key", "keys: {admin_key: short-secret-value}\n", "keys.admin_key: must be at least 24"},
		{"bad proxy", "keys: {trusted_proxies: [proxy.local]}\n", "keys.trusted_proxies[0]: want an address"},
		{"postgres without dsn", "keys: {store: postgres}\n", "keys.postgres.dsn: is required"},
		{"memory keys with postgres", "keys: {store: postgres, demo: true, postgres: {dsn: \"postgres://u:pw@127.0.0.1:1/x\"}}\n", "keys.demo: is used only with store: memory"},
		{"unreachable store", "keys: {store: postgres, postgres: {dsn: \"postgres://u:pw-in-here@127.0.0.1:1/x?connect_timeout=2\"}}\n", "keys.postgres: cannot open the key store"},
		{"bad dsn", "keys: {store: postgres, postgres: {dsn: \"::pw-in-here::\"}}\n", "keys.postgres.dsn: is no PostgreSQL connection string"},
		{"unreachable redis", "keys: {redis: {addr: \"127.0.0.1:1\"}}\n", "keys.redis: cache: subscribing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkConfig(okProviders+tc.yaml, env{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "short-secret-value")
			assert.NotContains(t, err.Error(), "pw")
		})
	}
}
