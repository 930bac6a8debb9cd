package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGeminiConfigMistakes(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"no key", "providers:\n  - name: g\n    type: gemini\n", "t.yaml:2: providers[0].api_key: is required for type gemini"},
		{"key in the URL", "providers:\n  - name: g\n    type: gemini\n    api_key: AIza-secret-0000\n    base_url: https://x/v1beta?key=AIza-secret-0000\n",
			"t.yaml:5: providers[0].base_url: provider: g: BaseURL holds the API key"},
		{"the key header", "providers:\n  - name: g\n    type: gemini\n    api_key: k\n    headers: {x-goog-api-key: other}\n",
			"providers[0].headers.x-goog-api-key: provider: g: Headers: x-goog-api-key is set by the provider"},
		{"sim options", "providers:\n  - name: g\n    type: gemini\n    api_key: k\n    sim: {seed: 1}\n", "providers[0].sim: only a provider of type sim takes sim options"},
		{"azure options", "providers:\n  - name: g\n    type: gemini\n    api_key: k\n    azure: {api_version: v}\n", "providers[0].azure: only a provider of type azure takes azure options"},
		{"empty model", "providers:\n  - name: g\n    type: gemini\n    api_key: k\n    models: [\"\"]\n", "providers[0].models: provider: g: Models holds an empty name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkConfig(tt.yaml, env{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "AIza-secret-0000")
		})
	}
	require.NoError(t, checkConfig("providers:\n  - {name: g, type: gemini, api_key: k}\n", env{}), "base_url is optional")
}
