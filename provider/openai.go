package provider

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
)

// OpenAIConfig configures an OpenAI-compatible provider (NewOpenAI). Only
// BaseURL is required.
type OpenAIConfig struct {
	// Name identifies the provider in attempts, metrics and usage records
	// (default "openai"). It must not be a secret.
	Name string
	// BaseURL is the upstream's API root, the only place the provider sends
	// requests to: "https://api.openai.com/v1", "http://127.0.0.1:11434/v1"
	// (the operation's path without /v1 is appended). For Azure it is the
	// resource endpoint, "https://NAME.openai.azure.com". It must be an
	// absolute http or https URL with no userinfo, query or fragment: keys go
	// in APIKey.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer KEY" (Azure: "api-key: KEY").
	// Empty sends no key, for local servers.
	APIKey string
	// Headers are extra upstream headers (e.g. OpenAI-Organization). A name
	// or value with a control character, or a header the provider sets
	// itself (Authorization, Api-Key, Content-Type, Content-Length, Accept,
	// Accept-Encoding, Host and the hop-by-hop headers), is a configuration
	// error.
	Headers map[string]string
	// Models lists the models the provider serves (ModelLister); empty means
	// any.
	Models []string
	// ModelMap renames models on the way upstream, asked -> upstream (e.g.
	// "gpt-4.1" -> "my-deployment"). Models not in it go as they are.
	ModelMap map[string]string
	// Azure, when set, selects Azure OpenAI: requests go to
	// {BaseURL}/openai/deployments/{deployment}/{operation}?api-version=...
	// with the key in an api-key header.
	Azure *AzureConfig
	// Transport sends the upstream requests. Nil means a dedicated
	// *http.Transport tuned for AI traffic (NewTransport).
	Transport http.RoundTripper
	// VerbatimErrors passes the upstream's error answers (4xx, 5xx) to
	// callers as the upstream sent them. By default (false) the status and
	// headers pass, but the body is replaced by an OpenAI-style error that
	// holds no key or account fragment (see OpenAI). Turn it on only when
	// every caller may see the upstream account's details: real upstreams'
	// 401s quote part of the key, their 429s name the organisation and
	// project.
	VerbatimErrors bool
}

// AzureConfig selects and configures Azure OpenAI.
type AzureConfig struct {
	// APIVersion is the api-version query parameter, e.g. "2024-10-21".
	// Required.
	APIVersion string
	// Deployments maps a model (after ModelMap) to its deployment name. A
	// model not in it is its own deployment name.
	Deployments map[string]string
}

// OpenAI is a Provider for any upstream that speaks the OpenAI API: OpenAI,
// Azure OpenAI, DeepSeek, vLLM, Ollama…
//
// Each request it sends upstream is built anew from its configuration: the
// URL is BaseURL plus the operation named by the incoming request's path
// (chat completions, completions, embeddings, models, responses: the
// Responses API passes through as it is, its events unchanged), whatever host the
// incoming request names; the headers are Content-Type, Accept, the
// configured key and the configured extras, and nothing else. The caller's
// credentials and every other inbound header stay behind, so a virtual key
// never goes upstream. Redirects are never followed: a 3xx answer is an
// error (errors.Is breaker.ErrRedirect, a 502), which breaker.Classify calls
// Fatal: not retried, no breaker failure, and a router moves the call on.
//
// It sends what the attempt's gateway.Outbound holds: its body, and the
// model a router may have renamed from the Call's, after this provider's own
// ModelMap (which renames the model in the body where it stands). Streams
// report usage upstream: the entry point set stream_options.include_usage in
// every stream's body, and removes the extra usage chunk before the caller
// sees it. A request without a gateway.Call (one that did not come through
// gateway.NewClient or gateway.NewHandler) is an error.
//
// Responses are returned as the upstream sent them, headers (x-ratelimit-*,
// Retry-After) included, and bodies are not buffered: a stream reaches the
// caller event by event. The caller closes the response body. An upstream
// error (4xx, 5xx) is a response too, with its status and headers, but its
// body (read up to 64 KiB) is replaced by an OpenAI-style error,
// {"error":{"message","type","param","code"}}, that holds no key or account
// fragment: for 401 and 403 the message says the upstream rejected the
// gateway's credentials; otherwise it is the upstream's message (at most
// 1 KiB) with the configured secrets and every word shaped like a key, a
// masked key, an organisation, project or user id, a UUID or an email
// replaced by [REDACTED]; the upstream's type, param and code stay when they
// are plain identifiers; the Openai-Organization, Openai-Project and
// Anthropic-Organization-Id headers are dropped. OpenAIConfig.VerbatimErrors
// passes error answers on untouched instead. A failure to get a response (connection
// refused or reset, timeout, cancellation) is returned as an error that
// wraps the transport's, so errors.Is and errors.As reach the net and
// context errors, and whose text never holds the key or the URL's query.
//
// OpenAI is immutable after NewOpenAI and safe for concurrent use.
type OpenAI struct {
	name     string
	models   []string
	modelMap map[string]string
	rt       http.RoundTripper
	secrets  []string // removed from error text

	verbatimErrors bool

	urls  [opCount]*url.URL // OpenAI style, by gateway.Op
	azure *azureRoutes      // nil unless Azure

	// Header templates, cloned per request.
	hdrJSON, hdrStream, hdrGet http.Header
}

// opCount is the number of gateway.Op values (OpUnknown..OpResponses).
const opCount = int(gateway.OpResponses) + 1

// NewOpenAI returns an OpenAI-compatible provider. It validates cfg and
// returns an error that says what is wrong; errors never include the key.
//
// Without cfg.Transport, the provider gets a dedicated transport of its
// own, NewTransport's (its tuning is described there).
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	if cfg.Name == "" {
		cfg.Name = "openai"
	}
	base, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	p := &OpenAI{
		name:     cfg.Name,
		models:   append([]string(nil), cfg.Models...),
		modelMap: make(map[string]string, len(cfg.ModelMap)),
		rt:       cfg.Transport,

		verbatimErrors: cfg.VerbatimErrors,
	}
	for k, v := range cfg.ModelMap {
		p.modelMap[k] = v
	}
	if p.rt == nil {
		p.rt = NewTransport()
	}
	p.secrets = secretsOf(cfg)
	keyHeader, keyValue := "Authorization", ""
	if cfg.APIKey != "" {
		keyValue = "Bearer " + cfg.APIKey
	}
	if cfg.Azure != nil {
		p.azure = newAzureRoutes(base, cfg.Azure)
		keyHeader, keyValue = "Api-Key", cfg.APIKey
	} else {
		for op := gateway.OpChat; int(op) < opCount; op++ {
			p.urls[op] = joinPath(base, opPaths[op])
		}
	}
	h := make(http.Header, len(cfg.Headers)+4)
	for k, v := range cfg.Headers {
		h.Set(k, v)
	}
	if keyValue != "" {
		h.Set(keyHeader, keyValue)
	}
	p.hdrGet = h.Clone()
	p.hdrGet.Set("Accept", "application/json")
	p.hdrJSON = p.hdrGet.Clone()
	p.hdrJSON.Set("Content-Type", "application/json")
	p.hdrStream = h.Clone()
	p.hdrStream.Set("Content-Type", "application/json")
	p.hdrStream.Set("Accept", "text/event-stream")
	// A compressed stream could be held back by the decompressor; ask for
	// none (this also turns off net/http's transparent gzip for streams).
	p.hdrStream.Set("Accept-Encoding", "identity")
	return p, nil
}

// Name returns the configured name.
func (p *OpenAI) Name() string { return p.name }

// Models returns the configured models (a copy), or nil for any model.
func (p *OpenAI) Models() []string {
	if len(p.models) == 0 {
		return nil
	}
	return append([]string(nil), p.models...)
}

// RoundTrip sends req upstream as described on OpenAI. It always closes
// req.Body, and returns a response or an error, never both.
func (p *OpenAI) RoundTrip(req *http.Request) (*http.Response, error) {
	closeBody(req)
	c := gateway.CallFrom(req.Context())
	if c == nil {
		return nil, errNoCall
	}
	op := c.Op
	if op == gateway.OpUnknown {
		return nil, gateway.ErrNotFound.WithMessage("provider: " + p.name + ": unsupported operation")
	}
	if op == gateway.OpMessages || op == gateway.OpCountTokens {
		return p.roundTripMessages(req, c) // openai_messages.go
	}
	var (
		body  []byte
		model string
	)
	if op != gateway.OpModels {
		if m, ok := p.modelMap[gateway.OutboundFrom(req.Context()).Model]; ok {
			// Renamed the one way there is, so the attempt records the
			// model sent: the response answers the renamed request.
			req = gateway.WithModel(req, m)
		}
		if dep, ok := p.azure.responsesModel(op, gateway.OutboundFrom(req.Context()).Model); ok {
			req = gateway.WithModel(req, dep)
		}
		sent := gateway.OutboundFrom(req.Context())
		body, model = sent.Body, sent.Model
	}
	out, err := p.newRequest(req.Context(), op, model, body, c.Stream)
	if err != nil {
		return nil, err
	}
	resp, err := p.send(out)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 && !p.verbatimErrors {
		p.sanitizeError(resp)
	}
	// The upstream request holds the key; what callers see is theirs (as
	// renamed, when the ModelMap renamed it).
	resp.Request = req
	return resp, nil
}

// Validate reports what is wrong with cfg, as NewOpenAI would: a name, key,
// header or model that is not allowed, a BaseURL that is not an absolute http
// or https URL without userinfo, query or fragment, an Azure setting that is
// missing or invalid. Its messages never hold the key, a URL's secrets or a
// header's value.
func (cfg OpenAIConfig) Validate() error {
	if cfg.Name == "" {
		cfg.Name = "openai"
	}
	_, err := cfg.validate()
	return err
}

// validate checks cfg, whose Name is set, and returns its base URL.
func (cfg OpenAIConfig) validate() (*url.URL, error) {
	if err := validateOpenAI(&cfg); err != nil {
		return nil, err
	}
	return parseBaseURL(cfg)
}

// HealthCheck asks the upstream for its model list (GET /models), which
// costs no tokens. It returns nil on a 2xx answer, an error wrapping
// gateway.ErrUpstream on any other status, or the transport's error as
// RoundTrip does.
func (p *OpenAI) HealthCheck(ctx context.Context) error {
	out, err := p.newRequest(ctx, gateway.OpModels, "", nil, false)
	if err != nil {
		return err
	}
	resp, err := p.send(out)
	if err != nil {
		return err
	}
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return gateway.ErrUpstream.WithMessage(fmt.Sprintf("provider: %s: health check: upstream answered %d", p.name, resp.StatusCode))
	}
	return nil
}

// CloseIdleConnections closes the idle connections of the provider's
// transport, when it has that method (as *http.Transport does).
func (p *OpenAI) CloseIdleConnections() {
	if c, ok := p.rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// errNoCall is the answer to a request that did not come through an entry
// point.
var errNoCall = gateway.ErrInternal.WithMessage("provider: no Call in the request context: " +
	"send requests through gateway.NewClient or gateway.NewHandler")

// opPaths are the OpenAI paths of the operations, after /v1.
var opPaths = [...]string{gateway.OpChat: "/chat/completions", gateway.OpCompletion: "/completions",
	gateway.OpEmbedding: "/embeddings", gateway.OpModels: "/models", gateway.OpResponses: "/responses"}

// newRequest builds the upstream request from configuration alone.
func (p *OpenAI) newRequest(ctx context.Context, op gateway.Op, model string, body []byte, stream bool) (*http.Request, error) {
	var u *url.URL
	if p.azure != nil {
		var err error
		if u, err = p.azure.url(op, model); err != nil {
			return nil, fmt.Errorf("provider: %s: %w", p.name, err)
		}
	} else {
		c := *p.urls[op]
		u = &c
	}
	out := &http.Request{
		Method:     http.MethodPost,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Host:       u.Host,
	}
	switch {
	case op == gateway.OpModels:
		out.Method, out.Header = http.MethodGet, p.hdrGet.Clone()
	case stream:
		out.Header = p.hdrStream.Clone()
	default:
		out.Header = p.hdrJSON.Clone()
	}
	if op != gateway.OpModels {
		out.ContentLength = int64(len(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		out.Body, _ = out.GetBody()
	}
	return out.WithContext(ctx), nil
}

// send sends out and refuses redirects.
func (p *OpenAI) send(out *http.Request) (*http.Response, error) {
	resp, err := p.rt.RoundTrip(out)
	if err != nil {
		if resp != nil && resp.Body != nil { // a transport broke its contract; don't leak
			resp.Body.Close()
		}
		return nil, p.transportError(err)
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	if resp.StatusCode/100 == 3 {
		// Following would send the request (and maybe the key) wherever the
		// upstream points; base URLs come from configuration only.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		return nil, breaker.ErrRedirect.WithMessage(fmt.Sprintf(
			"provider: %s: upstream answered %d, a redirect, which is not followed (check BaseURL)", p.name, resp.StatusCode))
	}
	return resp, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
