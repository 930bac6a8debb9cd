package config

import (
	"slices"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/provider"
)

// Providers of type gemini (provider.Gemini): Google's Gemini API behind
// the OpenAI format. base_url is optional (provider.DefaultGeminiBaseURL);
// api_key is required, from the environment: api_key: ${GEMINI_API_KEY}.

// geminiKeys checks the keys a provider of type gemini requires and
// accepts, and reports whether it can be built.
func (c *checker) geminiKeys(path string, p *providerConf) bool {
	ok := true
	if p.APIKey == "" {
		c.fail(path+".api_key", "is required for type gemini (e.g. ${GEMINI_API_KEY})")
		ok = false
	}
	if p.Sim != nil {
		c.fail(path+".sim", "only a provider of type sim takes sim options")
	}
	if p.Azure != nil {
		c.fail(path+".azure", "only a provider of type azure takes azure options")
	}
	return ok
}

// newGemini checks a provider of type gemini part by part, each at its own
// key (as openAIParts does for openai), and builds it when every part
// passed and it is buildable.
func (c *checker) newGemini(path string, p *providerConf, buildable bool) gateway.Provider {
	check := func(key string, gc provider.GeminiConfig) bool {
		gc.Name = p.Name
		return c.lib(path+key, gc.Validate())
	}
	if !check(".name", provider.GeminiConfig{}) {
		return nil
	}
	ok := check(".api_key", provider.GeminiConfig{APIKey: p.APIKey})
	if ok && p.BaseURL != "" {
		ok = check(".base_url", provider.GeminiConfig{BaseURL: p.BaseURL, APIKey: p.APIKey})
	}
	keys := make([]string, 0, len(p.Headers))
	for k := range p.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		ok = check(".headers."+k, provider.GeminiConfig{Headers: map[string]string{k: p.Headers[k]}}) && ok
	}
	ok = check(".models", provider.GeminiConfig{Models: p.Models}) && ok
	ok = check(".model_map", provider.GeminiConfig{ModelMap: p.ModelMap}) && ok
	if !ok || !buildable {
		return nil
	}
	g, err := provider.NewGemini(provider.GeminiConfig{Name: p.Name, BaseURL: p.BaseURL, APIKey: p.APIKey,
		Headers: p.Headers, Models: p.Models, ModelMap: p.ModelMap, VerbatimErrors: p.VerbatimErrors, Transport: c.obs.transport()})
	if !c.lib(path, err) {
		return nil
	}
	return g
}
