package config

import (
	"slices"

	"github.com/llmgate/gateway/provider"
)

// placeholderURL stands in for the base URL while the other parts of a
// provider are checked, so that each part is checked alone.
const placeholderURL = "https://provider.invalid/v1"

// openAIParts checks a provider of type openai or azure part by part, each
// at its own key: its name, its key, its base URL, each of its headers, its
// models, its model map and its Azure options. provider.OpenAIConfig.Validate
// stops at the first mistake; checked alone, no part hides another. It
// reports whether every part passed. A part that is missing (reported by
// the schema) is not checked.
func (c *checker) openAIParts(path string, p *providerConf) bool {
	check := func(key string, oc provider.OpenAIConfig) bool {
		oc.Name = p.Name
		if oc.BaseURL == "" {
			oc.BaseURL = placeholderURL
		}
		return c.lib(path+key, oc.Validate())
	}
	if !check(".name", provider.OpenAIConfig{}) {
		return false // every other message would hold the bad name
	}
	ok := check(".api_key", provider.OpenAIConfig{APIKey: p.APIKey})
	if ok && p.BaseURL != "" { // with the key: a base URL must not hold it
		ok = check(".base_url", provider.OpenAIConfig{BaseURL: p.BaseURL, APIKey: p.APIKey})
	}
	keys := make([]string, 0, len(p.Headers))
	for k := range p.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		ok = check(".headers."+k, provider.OpenAIConfig{Headers: map[string]string{k: p.Headers[k]}}) && ok
	}
	ok = check(".models", provider.OpenAIConfig{Models: p.Models}) && ok
	ok = check(".model_map", provider.OpenAIConfig{ModelMap: p.ModelMap}) && ok
	if p.Type == typeAzure && p.Azure != nil && p.Azure.APIVersion != "" {
		ok = check(".azure", provider.OpenAIConfig{Azure: &provider.AzureConfig{APIVersion: p.Azure.APIVersion, Deployments: p.Azure.Deployments}}) && ok
	}
	return ok
}
