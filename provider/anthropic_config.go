package provider

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/llmgate/gateway"
)

// AnthropicConfig configures an Anthropic Messages API provider
// (NewAnthropic). Its zero value, with an APIKey, serves api.anthropic.com.
type AnthropicConfig struct {
	// Name identifies the provider in attempts, metrics and usage records
	// (default "anthropic"). It must not be a secret.
	Name string
	// BaseURL is the API root, the only place requests go: default
	// "https://api.anthropic.com"; "/v1/messages" is appended. It must be
	// an absolute http or https URL with no userinfo, query or fragment.
	BaseURL string
	// APIKey is sent as "x-api-key: KEY", never in a URL, and removed from
	// every error text. Empty sends no key (a local fake, a proxy that
	// holds it).
	APIKey string
	// Version is the anthropic-version header (default DefaultAnthropicVersion).
	Version string
	// Beta lists anthropic-beta features sent with every request; a
	// Messages call's own anthropic-beta header is added to them.
	Beta []string
	// Headers are extra upstream headers, under OpenAIConfig.Headers' rules
	// (x-api-key, anthropic-version and anthropic-beta are the provider's).
	Headers map[string]string
	// Models lists the models served (ModelLister); empty means any.
	Models []string
	// ModelMap renames models on the way upstream, asked -> upstream.
	ModelMap map[string]string
	// DefaultMaxTokens is the max_tokens of a chat call that sets none:
	// Anthropic requires one, OpenAI does not. Default
	// DefaultAnthropicMaxTokens; a negative value is an error. The Call's
	// MaxTokens stays 0 (the caller set none), so what the layers outside
	// reserve for such a call is their own default (limiter.Config and
	// billing.BudgetConfig DefaultMaxTokens, the same 4096 by default):
	// configured above theirs, a call may use more than they hold.
	DefaultMaxTokens int
	// Transport sends the upstream requests; nil means a dedicated one,
	// NewTransport's.
	Transport http.RoundTripper
	// VerbatimErrors passes the upstream's error bodies unchanged (see
	// OpenAIConfig.VerbatimErrors).
	VerbatimErrors bool
	// Clock stamps the created time of translated chat answers; nil is the
	// system clock.
	Clock gateway.Clock
}

// Defaults of AnthropicConfig.
const (
	DefaultAnthropicBaseURL   = "https://api.anthropic.com"
	DefaultAnthropicVersion   = "2023-06-01"
	DefaultAnthropicMaxTokens = 4096
)

// anthropicReserved are the headers the Anthropic provider sets itself.
var anthropicReserved = map[string]bool{"X-Api-Key": true, "Anthropic-Version": true, "Anthropic-Beta": true}

// Validate reports every problem of cfg at once (errors.Join), as
// NewAnthropic would: a name, key, header, beta or model that is not
// allowed, a BaseURL that is not an absolute http or https URL without
// userinfo, query or fragment, a negative DefaultMaxTokens. Its messages
// never hold the key or a header's value.
func (cfg AnthropicConfig) Validate() error {
	_, err := cfg.withDefaults().validate()
	return err
}

func (cfg AnthropicConfig) withDefaults() AnthropicConfig {
	if cfg.Name == "" {
		cfg.Name = "anthropic"
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultAnthropicBaseURL
	}
	if cfg.Version == "" {
		cfg.Version = DefaultAnthropicVersion
	}
	if cfg.DefaultMaxTokens == 0 {
		cfg.DefaultMaxTokens = DefaultAnthropicMaxTokens
	}
	return cfg
}

// validate checks cfg, defaults applied, and returns its base URL. The
// checks shared with OpenAIConfig are OpenAIConfig's, run on its view of
// cfg, so both adapters refuse alike.
func (cfg AnthropicConfig) validate() (*url.URL, error) {
	prefix := "provider: " + cfg.Name + ": "
	view := cfg.openAIView()
	var errs []error
	if err := validateOpenAI(&view); err != nil {
		errs = append(errs, errors.New(strings.Replace(err.Error(), "provider: openai: ", prefix, 1)))
	}
	for k := range cfg.Headers {
		if anthropicReserved[http.CanonicalHeaderKey(k)] {
			errs = append(errs, errors.New(prefix+"Headers: "+k+" is set by the provider and may not be configured"))
		}
	}
	if !validHeaderName(cfg.Version) {
		errs = append(errs, errors.New(prefix+"Version must be a token such as "+DefaultAnthropicVersion))
	}
	for _, b := range cfg.Beta {
		if !validHeaderName(b) {
			errs = append(errs, errors.New(prefix+"Beta holds an invalid feature name "+quoteSafe(b)))
		}
	}
	if cfg.DefaultMaxTokens < 0 {
		errs = append(errs, errors.New(prefix+"DefaultMaxTokens must be positive"))
	}
	base, err := parseBaseURL(view)
	if err != nil {
		errs = append(errs, err)
	}
	return base, errors.Join(errs...)
}

// openAIView is cfg as the OpenAI adapter's configuration: the upstream
// plumbing (transport, redirect refusal, error and key hygiene) is shared.
func (cfg AnthropicConfig) openAIView() OpenAIConfig {
	return OpenAIConfig{Name: cfg.Name, BaseURL: cfg.BaseURL, APIKey: cfg.APIKey, Headers: cfg.Headers,
		Models: cfg.Models, ModelMap: cfg.ModelMap, Transport: cfg.Transport, VerbatimErrors: cfg.VerbatimErrors}
}
