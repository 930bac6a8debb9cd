package config

import (
	"fmt"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/billing"
	"github.com/llmgate/gateway/limiter"
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
	cfg.Transport = c.obs.transport()
	a, err := provider.NewAnthropic(cfg)
	if !c.lib(path, err) {
		return nil
	}
	return a
}

// reserveAnthropicBound makes what a chat call without max_tokens reserves
// (limits.default_max_tokens, and billing.budgets.default_max_tokens under
// the strict policy) at least what an anthropic provider sends for it, its
// default_max_tokens: Anthropic requires a max_tokens, so the provider
// sends its own, and a reservation below it would let concurrent calls
// overrun a token limit or a strict budget. Left out, those keys follow the
// largest such default (at least their own); written lower, they are an
// error. It runs before the limits and the budgets are built.
func (c *checker) reserveAnthropicBound(cfg *File) {
	most, from := 0, ""
	for i := range cfg.Providers {
		p := &cfg.Providers[i]
		if p.Type != typeAnthropic {
			continue
		}
		n := provider.DefaultAnthropicMaxTokens
		if p.Anthropic != nil && p.Anthropic.DefaultMaxTokens > 0 {
			n = p.Anthropic.DefaultMaxTokens
		}
		if n > most {
			most, from = n, fmt.Sprintf("providers[%d] (%s)", i, p.Name)
		}
	}
	if most == 0 {
		return
	}
	if l := &cfg.Limits.Rate; len(l.Rules) > 0 { // without rules nothing is reserved, and the key is refused
		atLeast(c, "limits.default_max_tokens", &l.DefaultMaxTokens, int64(most), limiter.DefaultMaxTokens, from)
	}
	b := &cfg.Billing.Budgets
	if b.Policy == "" || b.Policy == "strict" {
		atLeast(c, "billing.budgets.default_max_tokens", &b.DefaultMaxTokens, most, billing.DefaultMaxTokens, from)
	}
}

// atLeast raises *v, the value at path (zero: its library's default def),
// to want when path is left out, and reports it when it is written lower.
func atLeast[T int | int64](c *checker, path string, v *T, want, def T, from string) {
	switch {
	case !c.src.has(path):
		*v = max(want, def)
	case *v > 0 && *v < want:
		c.fail(path, "%d is less than the %d that %s sends a chat call without max_tokens: "+
			"what the call reserves must cover what it may use", *v, want, from)
	}
}
