package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/llmgate/gateway"
)

// DefaultGeminiBaseURL is the Gemini API's root, GeminiConfig.BaseURL's
// default.
const DefaultGeminiBaseURL = "https://generativelanguage.googleapis.com/v1beta"

// GeminiConfig configures a Gemini provider (NewGemini). Its zero value but
// for the key is a working configuration.
type GeminiConfig struct {
	// Name identifies the provider in attempts, metrics and usage records
	// (default "gemini"). It must not be a secret.
	Name string
	// BaseURL is the API root (default DefaultGeminiBaseURL); requests go to
	// {BaseURL}/models/{model}:{method}. An absolute http or https URL with
	// no userinfo, query or fragment.
	BaseURL string
	// APIKey is sent in the x-goog-api-key header, never in the URL (where
	// Google's own samples put it, and whence it reaches logs and errors).
	APIKey string
	// Headers are extra upstream headers; the provider's own (x-goog-api-key,
	// Content-Type, Accept…) may not be set here.
	Headers map[string]string
	// Models lists the models the provider serves (ModelLister); empty means
	// any.
	Models []string
	// ModelMap renames models on the way upstream, asked -> upstream.
	ModelMap map[string]string
	// Transport sends the upstream requests; nil means a dedicated one,
	// NewTransport's.
	Transport http.RoundTripper
	// VerbatimErrors passes Gemini's error bodies on unchanged (see
	// OpenAIConfig.VerbatimErrors). A 400's or 429's body is read for its
	// details, bounded at 64 KiB: one cut there, or by the upstream, ends
	// with an error for its reader, never as a whole body.
	VerbatimErrors bool
}

// Gemini is a Provider for Google's Gemini API. It takes OpenAI-format chat
// completions (streaming or not), embeddings and model-list calls,
// translates each into generateContent, streamGenerateContent (alt=sse),
// embedContent or batchEmbedContents, and translates the answers back, so
// that an OpenAI SDK, a router and the usage tap see OpenAI's format:
// message roles, tools and tool calls (ids kept across turns, with their
// thought signatures: see gemini_callid.go), tool_choice, finish reasons
// (STOP stop, MAX_TOKENS length, SAFETY, RECITATION and the other filters
// content_filter, function calls tool_calls, anything else stop), and usage
// (cachedContentTokenCount as cached_tokens, thoughtsTokenCount as
// reasoning_tokens, both inside OpenAI's totals). Images go up as inline
// data (data: URLs) or file URIs; images an image model makes come back in
// the message's "images", as data URLs. The gateway's Anthropic-format
// front door (/v1/messages, and its token counting by Gemini's
// countTokens) is served too, through OpenAI's format (see
// gemini_messages.go). Other operations (completions, the Responses API)
// are answered 404.
//
// Upstream requests are built from the configuration alone, like OpenAI's:
// the key goes in x-goog-api-key, no inbound header goes upstream, and
// redirects are never followed. A stream is translated event by event as it
// is read, never buffered; it ends with [DONE] only after Gemini's
// finishReason, and one cut before that fails the caller's read. Error
// answers keep their status and headers and get OpenAI's error body,
// redacted as OpenAI's are (OpenAIConfig.VerbatimErrors); a 400 that says
// the key is invalid is a 401, so that breakers and routers treat it as the
// target's fault, and a 429's RetryInfo becomes Retry-After.
//
// Gemini is immutable after NewGemini and safe for concurrent use.
type Gemini struct {
	name     string
	base     *url.URL
	models   []string
	modelMap map[string]string
	// wire is the OpenAI adapter's upstream plumbing, shared: sending
	// without following redirects, transport errors without secrets, and
	// error bodies rebuilt without account details.
	wire *OpenAI

	hdrJSON, hdrStream, hdrGet http.Header
}

var (
	_ gateway.Provider    = (*Gemini)(nil)
	_ gateway.ModelLister = (*Gemini)(nil)
)

// geminiKeyHeader carries the key.
const geminiKeyHeader = "X-Goog-Api-Key"

// NewGemini returns a Gemini provider, or an error that says what is wrong
// with cfg (never quoting the key).
func NewGemini(cfg GeminiConfig) (*Gemini, error) {
	oc, err := cfg.openAIConfig()
	if err != nil {
		return nil, err
	}
	base, err := oc.validate()
	if err != nil {
		return nil, err
	}
	p := &Gemini{
		name:     oc.Name,
		base:     base,
		models:   append([]string(nil), cfg.Models...),
		modelMap: make(map[string]string, len(cfg.ModelMap)),
		wire:     &OpenAI{name: oc.Name, rt: cfg.Transport, secrets: secretsOf(oc), verbatimErrors: cfg.VerbatimErrors},
	}
	for k, v := range cfg.ModelMap {
		p.modelMap[k] = v
	}
	if p.wire.rt == nil {
		p.wire.rt = NewTransport()
	}
	h := make(http.Header, len(cfg.Headers)+4)
	for k, v := range cfg.Headers {
		h.Set(k, v)
	}
	if cfg.APIKey != "" {
		h.Set(geminiKeyHeader, cfg.APIKey)
	}
	p.hdrGet = h.Clone()
	p.hdrGet.Set("Accept", "application/json")
	p.hdrJSON = p.hdrGet.Clone()
	p.hdrJSON.Set("Content-Type", "application/json")
	p.hdrStream = h.Clone()
	p.hdrStream.Set("Content-Type", "application/json")
	p.hdrStream.Set("Accept", "text/event-stream")
	p.hdrStream.Set("Accept-Encoding", "identity")
	return p, nil
}

// Validate reports what is wrong with cfg, as NewGemini would.
func (cfg GeminiConfig) Validate() error {
	oc, err := cfg.openAIConfig()
	if err != nil {
		return err
	}
	_, err = oc.validate()
	return err
}

// openAIConfig is cfg with its defaults, as the OpenAIConfig whose rules it
// shares (names, keys, headers, models, base URL), after the checks that
// are Gemini's own.
func (cfg GeminiConfig) openAIConfig() (OpenAIConfig, error) {
	if cfg.Name == "" {
		cfg.Name = "gemini"
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultGeminiBaseURL
	}
	for k := range cfg.Headers {
		if http.CanonicalHeaderKey(k) == geminiKeyHeader {
			return OpenAIConfig{}, errors.New("provider: " + cfg.Name + ": Headers: " + k + " is set by the provider and may not be configured")
		}
	}
	return OpenAIConfig{Name: cfg.Name, BaseURL: cfg.BaseURL, APIKey: cfg.APIKey, Headers: cfg.Headers,
		Models: cfg.Models, ModelMap: cfg.ModelMap}, nil
}

// Name returns the configured name.
func (p *Gemini) Name() string { return p.name }

// Models returns the configured models (a copy), or nil for any model.
func (p *Gemini) Models() []string {
	if len(p.models) == 0 {
		return nil
	}
	return append([]string(nil), p.models...)
}

// RoundTrip translates req and sends it upstream, as described on Gemini.
// The model names a Gemini model, with or without its "models/" prefix; one
// that is not a single path segment is a bad request, sent nowhere. It
// always closes req.Body and returns a response or an error, never both.
func (p *Gemini) RoundTrip(req *http.Request) (*http.Response, error) {
	closeBody(req)
	c := gateway.CallFrom(req.Context())
	if c == nil {
		return nil, errNoCall
	}
	switch c.Op {
	case gateway.OpModels:
		return p.list(req)
	case gateway.OpChat, gateway.OpEmbedding, gateway.OpMessages, gateway.OpCountTokens:
	default:
		return nil, gateway.ErrNotFound.WithMessage("provider: " + p.name + ": Gemini does not serve " + c.Op.String() + " calls")
	}
	req, model, err := p.target(req)
	if err != nil {
		return nil, err
	}
	sent := gateway.OutboundFrom(req.Context())
	switch c.Op {
	case gateway.OpMessages:
		return p.roundTripMessages(req, c, model) // gemini_messages.go
	case gateway.OpCountTokens:
		return p.countTokens(req, model) // gemini_messages.go
	case gateway.OpEmbedding:
		e, err := geminiEmbedding(sent.Body, model)
		if err != nil {
			return nil, err
		}
		method := ":embedContent"
		if e.batch {
			method = ":batchEmbedContents"
		}
		return p.exchange(req, model+method, e.body, false, nil,
			func(raw []byte) ([]byte, error) { return e.openAIEmbeddings(raw, sent.Model) })
	}
	body, err := geminiRequest(sent.Body, c.MaxTokens)
	if err != nil {
		return nil, err
	}
	return p.chat(req, c, model, body)
}

// target renames req's model by the ModelMap (the attempt records the model
// sent) and returns the Gemini model it names, or a bad request for one
// that is not a single path segment.
func (p *Gemini) target(req *http.Request) (*http.Request, string, error) {
	if m, ok := p.modelMap[gateway.OutboundFrom(req.Context()).Model]; ok {
		req = gateway.WithModel(req, m)
	}
	model := strings.TrimPrefix(gateway.OutboundFrom(req.Context()).Model, "models/")
	if err := checkDeployment(model); err != nil {
		return nil, "", gateway.ErrBadRequest.WithMessage("provider: " + p.name + ": model cannot name a Gemini model: " + err.Error())
	}
	return req, model, nil
}

// chat sends body, a generateContent request for model, and answers in
// OpenAI's chat format, streamed or whole.
func (p *Gemini) chat(req *http.Request, c *gateway.Call, model string, body []byte) (*http.Response, error) {
	meta := answerMeta{callID: c.ID, created: c.Start.Unix(), model: gateway.OutboundFrom(req.Context()).Model}
	if c.Stream {
		return p.exchange(req, model+":streamGenerateContent", body, true, &meta, nil)
	}
	return p.exchange(req, model+":generateContent", body, false, nil,
		func(raw []byte) ([]byte, error) { return geminiCompletion(raw, &meta) })
}

// exchange sends body to {base}/models/{target} and translates a 2xx
// answer: a stream event by event (meta), a whole answer with translate.
// An error answer is prepared by upstreamError.
func (p *Gemini) exchange(req *http.Request, target string, body []byte, stream bool, meta *answerMeta,
	translate func([]byte) ([]byte, error)) (*http.Response, error) {
	resp, err := p.wire.send(p.newRequest(req.Context(), target, body, stream))
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode >= 400:
		p.upstreamError(resp)
	case resp.StatusCode/100 != 2:
	case stream:
		answer(resp, "text/event-stream", newGeminiStream(resp.Body, *meta))
	default:
		answer(resp, "application/json", &translatedBody{src: resp.Body, translate: translate})
	}
	resp.Request = req // the upstream request holds the key
	return resp, nil
}

// list answers a model list from Gemini's.
func (p *Gemini) list(req *http.Request) (*http.Response, error) {
	out := p.newRequest(req.Context(), "", nil, false)
	resp, err := p.wire.send(out)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		p.upstreamError(resp)
	} else {
		created := int64(0)
		if c := gateway.CallFrom(req.Context()); c != nil {
			created = c.Start.Unix()
		}
		answer(resp, "application/json", &translatedBody{src: resp.Body, translate: func(raw []byte) ([]byte, error) {
			return openAIModels(raw, created)
		}})
	}
	resp.Request = req
	return resp, nil
}

// answer replaces resp's body with its translation.
func answer(resp *http.Response, contentType string, body io.ReadCloser) {
	resp.Header.Del("Content-Length")
	resp.Header.Del("Content-Encoding")
	resp.Header.Set("Content-Type", contentType)
	resp.Body, resp.ContentLength = body, -1
	resp.TransferEncoding, resp.Uncompressed = nil, false
}

// newRequest builds the upstream request for {base}/models/{target}
// (target is "MODEL:method", or empty for the model list), from
// configuration alone.
func (p *Gemini) newRequest(ctx context.Context, target string, body []byte, stream bool) *http.Request {
	var u url.URL
	if target == "" {
		u = *joinPath(p.base, "/models")
		u.RawQuery = "pageSize=1000"
	} else {
		u = *joinPath(p.base, "/models/"+target)
		u.RawPath = p.base.EscapedPath() + "/models/" + url.PathEscape(target)
		if stream {
			u.RawQuery = "alt=sse" // the key is in a header: the URL holds no secret
		}
	}
	out := &http.Request{Method: http.MethodPost, URL: &u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Host: u.Host}
	switch {
	case target == "":
		out.Method, out.Header = http.MethodGet, p.hdrGet.Clone()
	case stream:
		out.Header = p.hdrStream.Clone()
	default:
		out.Header = p.hdrJSON.Clone()
	}
	if body != nil {
		out.ContentLength = int64(len(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		out.Body, _ = out.GetBody()
	}
	return out.WithContext(ctx)
}

// HealthCheck asks Gemini for its model list, which costs no tokens: nil on
// a 2xx answer, an error wrapping gateway.ErrUpstream on another status, or
// the transport's error.
func (p *Gemini) HealthCheck(ctx context.Context) error {
	resp, err := p.wire.send(p.newRequest(ctx, "", nil, false))
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return gateway.ErrUpstream.WithMessage(fmt.Sprintf("provider: %s: health check: upstream answered %d", p.name, resp.StatusCode))
	}
	return nil
}

// CloseIdleConnections closes the idle connections of the provider's
// transport, when it has that method.
func (p *Gemini) CloseIdleConnections() { p.wire.CloseIdleConnections() }
