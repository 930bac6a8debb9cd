package provider_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/provider"
)

func TestNewOpenAI_Validation(t *testing.T) {
	const key = "sk-config-secret-0123456789"
	ok := func() provider.OpenAIConfig {
		return provider.OpenAIConfig{BaseURL: "https://api.openai.com/v1", APIKey: key}
	}
	for _, tc := range []struct {
		name string
		edit func(*provider.OpenAIConfig)
		want string // part of the error; "" means valid
	}{
		{"valid", func(*provider.OpenAIConfig) {}, ""},
		{"valid without key", func(c *provider.OpenAIConfig) { c.APIKey = "" }, ""},
		{"valid local http", func(c *provider.OpenAIConfig) { c.BaseURL = "http://127.0.0.1:11434/v1/" }, ""},
		{"valid azure", func(c *provider.OpenAIConfig) {
			c.BaseURL = "https://res.openai.azure.com"
			c.Azure = &provider.AzureConfig{APIVersion: "2025-01-01-preview", Deployments: map[string]string{"gpt-4.1": "prod"}}
		}, ""},
		{"valid extra headers", func(c *provider.OpenAIConfig) {
			c.Headers = map[string]string{"OpenAI-Organization": "org-1", "OpenAI-Project": "proj_1", "X-Api-Key": "k"}
		}, ""},
		{"no base URL", func(c *provider.OpenAIConfig) { c.BaseURL = "" }, "BaseURL is required"},
		{"relative", func(c *provider.OpenAIConfig) { c.BaseURL = "/v1" }, "absolute http or https"},
		{"no scheme", func(c *provider.OpenAIConfig) { c.BaseURL = "api.openai.com/v1" }, "absolute http or https"},
		{"ftp", func(c *provider.OpenAIConfig) { c.BaseURL = "ftp://api.openai.com/v1" }, "absolute http or https"},
		{"no host", func(c *provider.OpenAIConfig) { c.BaseURL = "https:///v1" }, "must name a host"},
		{"opaque", func(c *provider.OpenAIConfig) { c.BaseURL = "https:api.openai.com" }, "must name a host"},
		{"port out of range", func(c *provider.OpenAIConfig) { c.BaseURL = "http://127.0.0.1:99999/v1" }, "port must be a number from 1 to 65535"},
		{"port zero", func(c *provider.OpenAIConfig) { c.BaseURL = "http://127.0.0.1:0/v1" }, "port must be a number from 1 to 65535"},
		{"empty port: the scheme's", func(c *provider.OpenAIConfig) { c.BaseURL = "http://127.0.0.1:/v1" }, ""},
		{"port overflowing", func(c *provider.OpenAIConfig) { c.BaseURL = "http://[::1]:99999999999999999999/v1" }, "port must be a number from 1 to 65535"},
		{"valid port", func(c *provider.OpenAIConfig) { c.BaseURL = "http://[::1]:65535/v1" }, ""},
		{"unparseable", func(c *provider.OpenAIConfig) { c.BaseURL = "https://api.openai.com/v1\x7f" + key }, "holds the API key"},
		{"unparseable no key", func(c *provider.OpenAIConfig) { c.BaseURL = "https://[::1/v1?k=hidden-secret" }, "not a valid URL"},
		{"userinfo", func(c *provider.OpenAIConfig) { c.BaseURL = "https://user:hidden-secret@api.openai.com/v1" }, "userinfo"},
		{"query", func(c *provider.OpenAIConfig) { c.BaseURL = "https://api.openai.com/v1?key=hidden-secret" }, "must not hold a query"},
		{"empty query", func(c *provider.OpenAIConfig) { c.BaseURL = "https://api.openai.com/v1?" }, "must not hold a query"},
		{"fragment", func(c *provider.OpenAIConfig) { c.BaseURL = "https://api.openai.com/v1#hidden-secret" }, "fragment"},
		{"key in path", func(c *provider.OpenAIConfig) { c.BaseURL = "https://api.openai.com/" + key + "/v1" }, "holds the API key"},
		{"key with newline", func(c *provider.OpenAIConfig) { c.APIKey = key + "\r\nX-Injected: 1" }, "APIKey holds a control character"},
		{"header value CR LF", func(c *provider.OpenAIConfig) {
			c.Headers = map[string]string{"X-Org": "org\r\nX-Injected: hidden-secret"}
		}, "control character"},
		{"header value LF", func(c *provider.OpenAIConfig) { c.Headers = map[string]string{"X-Org": "a\nb"} }, "control character"},
		{"header name LF", func(c *provider.OpenAIConfig) { c.Headers = map[string]string{"X-Org\nX-Injected": "v"} }, "invalid header name"},
		{"header name space", func(c *provider.OpenAIConfig) { c.Headers = map[string]string{"X Org": "v"} }, "invalid header name"},
		{"header empty name", func(c *provider.OpenAIConfig) { c.Headers = map[string]string{"": "v"} }, "invalid header name"},
		{"header Authorization", func(c *provider.OpenAIConfig) { c.Headers = map[string]string{"authorization": "Bearer x"} }, "set by the provider"},
		{"header api-key", func(c *provider.OpenAIConfig) { c.Headers = map[string]string{"api-key": "x"} }, "set by the provider"},
		{"header Content-Type", func(c *provider.OpenAIConfig) { c.Headers = map[string]string{"Content-Type": "text/plain"} }, "set by the provider"},
		{"header Host", func(c *provider.OpenAIConfig) { c.Headers = map[string]string{"HOST": "evil"} }, "set by the provider"},
		{"header Content-Length", func(c *provider.OpenAIConfig) { c.Headers = map[string]string{"Content-Length": "1"} }, "set by the provider"},
		{"header Transfer-Encoding", func(c *provider.OpenAIConfig) { c.Headers = map[string]string{"Transfer-Encoding": "chunked"} }, "set by the provider"},
		{"empty model", func(c *provider.OpenAIConfig) { c.Models = []string{"gpt-4.1", ""} }, "Models holds an empty name"},
		{"empty rename", func(c *provider.OpenAIConfig) { c.ModelMap = map[string]string{"gpt-4.1": ""} }, "ModelMap holds an empty"},
		{"name holds key", func(c *provider.OpenAIConfig) { c.Name = "openai-" + key }, "Name holds the API key"},
		{"name newline", func(c *provider.OpenAIConfig) { c.Name = "a\nb" }, "Name must be"},
		{"azure no version", func(c *provider.OpenAIConfig) { c.Azure = &provider.AzureConfig{} }, "APIVersion is required"},
		{"azure bad version", func(c *provider.OpenAIConfig) { c.Azure = &provider.AzureConfig{APIVersion: "2024&key=x"} }, "APIVersion must hold only"},
		{"azure bad deployment", func(c *provider.OpenAIConfig) {
			c.Azure = &provider.AzureConfig{APIVersion: "2024-10-21", Deployments: map[string]string{"gpt-4.1": "../admin"}}
		}, "may not hold /"},
		{"azure dot deployment", func(c *provider.OpenAIConfig) {
			c.Azure = &provider.AzureConfig{APIVersion: "2024-10-21", Deployments: map[string]string{"gpt-4.1": ".."}}
		}, "may not be . or .."},
		{"azure base with query", func(c *provider.OpenAIConfig) {
			c.BaseURL = "https://res.openai.azure.com?api-version=2024-10-21"
			c.Azure = &provider.AzureConfig{APIVersion: "2024-10-21"}
		}, "Azure.APIVersion"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok()
			tc.edit(&cfg)
			p, err := provider.NewOpenAI(cfg)
			if tc.want == "" {
				require.NoError(t, err)
				require.NotNil(t, p)
				p.CloseIdleConnections()
				return
			}
			require.Error(t, err)
			assert.Nil(t, p)
			assert.Contains(t, err.Error(), tc.want)
			assert.Regexp(t, `^provider: `, err.Error())
			assert.NotContains(t, err.Error(), key, "an error never holds the key")
			assert.NotContains(t, err.Error(), "hidden-secret", "an error never echoes a secret-bearing value")
		})
	}
}

// A short key that happens to appear in a provider's name ("az" in "azure")
// is no leak: only keys long enough to be secrets are searched for.
func TestNewOpenAIShortKeyInNameIsNotALeak(t *testing.T) {
	_, err := provider.NewOpenAI(provider.OpenAIConfig{Name: "azure", BaseURL: "http://127.0.0.1:1/v1", APIKey: "az"})
	require.NoError(t, err)
	_, err = provider.NewOpenAI(provider.OpenAIConfig{Name: "team-sk-live-12345678", BaseURL: "http://127.0.0.1:1/v1", APIKey: "sk-live-12345678"})
	require.Error(t, err)
}
