package main

import (
	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/provider"
)

// typeAnthropic is a provider of Anthropic's Messages API
// (provider.Anthropic): it serves OpenAI chat calls, translated, and the
// /v1/messages front door natively.
const typeAnthropic = "anthropic"

// anthropicConf is what only a provider of type anthropic takes.
type anthropicConf struct {
	Version          string   `yaml:"version"`            // anthropic-version; default provider.DefaultAnthropicVersion
	Beta             []string `yaml:"beta"`               // anthropic-beta features sent with every call
	DefaultMaxTokens int      `yaml:"default_max_tokens"` // for chat calls that set none; default 4096
}

// anthropicKeys checks that only a provider of type anthropic takes
// anthropic options, and that it takes no other type's.
func (c *checker) anthropicKeys(path string, p *providerConf) {
	if p.Type != typeAnthropic {
		if p.Anthropic != nil {
			c.fail(path+".anthropic", "only a provider of type anthropic takes anthropic options")
		}
		return
	}
	for _, k := range []string{"sim", "azure"} {
		if c.src.has(path + "." + k) {
			c.fail(path+"."+k, "is not used by a provider of type anthropic")
		}
	}
}

// anthropicConfig is a provider of type anthropic.
func (c *checker) anthropicConfig(path string, p *providerConf) provider.AnthropicConfig {
	cfg := provider.AnthropicConfig{Name: p.Name, BaseURL: p.BaseURL, APIKey: p.APIKey, Headers: p.Headers,
		Models: p.Models, ModelMap: p.ModelMap, VerbatimErrors: p.VerbatimErrors}
	if a := p.Anthropic; a != nil {
		cfg.Version, cfg.Beta = a.Version, a.Beta
		cfg.DefaultMaxTokens = positive(c, path+".anthropic.default_max_tokens", a.DefaultMaxTokens)
	}
	return cfg
}

// newAnthropic checks and builds a provider of type anthropic; every
// mistake its library finds is reported at path.
func newAnthropic(c *checker, path string, p *providerConf, buildable bool) gateway.Provider {
	cfg := c.anthropicConfig(path, p)
	if !c.lib(path, cfg.Validate()) || !buildable {
		return nil
	}
	a, err := provider.NewAnthropic(cfg)
	if !c.lib(path, err) {
		return nil
	}
	return a
}

// messagesBody is the banner's example of the Anthropic-format front door.
func messagesBody(model string) string {
	return `{"model":"` + model + `","max_tokens":64,"messages":[{"role":"user","content":"Hello!"}]}`
}
