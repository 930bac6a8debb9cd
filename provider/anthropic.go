package provider

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/anthropicwire"
	"github.com/llmgate/gateway/internal/clock"
)

// Anthropic is a Provider for Anthropic's Messages API. It serves:
//
//   - OpenAI Chat Completions calls (gateway.OpChat), translated both ways,
//     streams event by event (see internal/anthropicwire for every mapping:
//     system and developer messages lifted into system with their
//     cache_control, tool results into one user turn, tool arguments
//     string <-> object, streamed tool deltas under OpenAI's tool index,
//     tool_choice and parallel_tool_calls, stop reasons, thinking blocks
//     replayed byte for byte through thinking_blocks, images). A call that
//     sets no max_tokens gets DefaultMaxTokens (Anthropic requires one);
//     temperature is clamped to Anthropic's [0, 1]. Usage is in OpenAI's
//     terms: prompt_tokens is Anthropic's input_tokens plus its cache reads
//     and writes, with prompt_tokens_details.cached_tokens,
//     cache_write_tokens and cache_write_1h_tokens saying which, so the
//     Call's Usage (and billing) gets every cache number. An error event
//     after the 200, or a stream that ends before message_stop, is a read
//     error, never a [DONE].
//   - the gateway's Anthropic-format front door (gateway.OpMessages,
//     OpCountTokens) natively: the Outbound body goes as it is, the answer
//     comes back as it is, so nothing is lost.
//
// Requests are built from configuration only: BaseURL + /v1/messages (or
// /v1/messages/count_tokens), x-api-key, anthropic-version, anthropic-beta
// (the configured features and, on the native path, the caller's), the
// configured extras; the caller's credentials stay behind. Redirects are
// not followed. Error answers keep their status (a 529 is Overloaded to
// breaker.Classify) and headers, with the body rebuilt as provider.OpenAI
// rebuilds it (the same redaction: no key, account id or email), in
// OpenAI's shape for a chat call and Anthropic's for a Messages call;
// VerbatimErrors passes them unchanged.
//
// Anthropic is immutable after NewAnthropic and safe for concurrent use.
type Anthropic struct {
	// link is the upstream plumbing the OpenAI adapter has: its transport,
	// redirect refusal, and error and key hygiene, so both redact alike.
	link      *OpenAI
	models    []string
	modelMap  map[string]string
	maxTokens int
	clock     gateway.Clock
	messages  *url.URL
	count     *url.URL
	list      *url.URL    // GET /v1/models, the health check's
	hdr       http.Header // cloned per request
	beta      string
}

var _ gateway.Provider = (*Anthropic)(nil)

// NewAnthropic returns an Anthropic provider. It validates cfg (Validate)
// and returns every error at once; errors never include the key. Without a
// Transport it gets its own (NewTransport).
func NewAnthropic(cfg AnthropicConfig) (*Anthropic, error) {
	cfg = cfg.withDefaults()
	base, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	view := cfg.openAIView()
	link := &OpenAI{name: cfg.Name, rt: cfg.Transport, secrets: secretsOf(view), verbatimErrors: cfg.VerbatimErrors}
	if link.rt == nil {
		link.rt = NewTransport()
	}
	p := &Anthropic{
		link:      link,
		models:    append([]string(nil), cfg.Models...),
		modelMap:  make(map[string]string, len(cfg.ModelMap)),
		maxTokens: cfg.DefaultMaxTokens,
		clock:     clock.Or(cfg.Clock),
		messages:  joinPath(base, "/v1/messages"),
		count:     joinPath(base, "/v1/messages/count_tokens"),
		list:      joinPath(base, "/v1/models"),
		beta:      strings.Join(cfg.Beta, ","),
	}
	for k, v := range cfg.ModelMap {
		p.modelMap[k] = v
	}
	h := make(http.Header, len(cfg.Headers)+5)
	for k, v := range cfg.Headers {
		h.Set(k, v)
	}
	if cfg.APIKey != "" {
		h.Set("X-Api-Key", cfg.APIKey)
	}
	h.Set("Anthropic-Version", cfg.Version)
	h.Set("Content-Type", "application/json")
	p.hdr = h
	return p, nil
}

// Name returns the configured name.
func (p *Anthropic) Name() string { return p.link.name }

// Models returns the configured models (a copy), or nil for any model.
func (p *Anthropic) Models() []string {
	if len(p.models) == 0 {
		return nil
	}
	return append([]string(nil), p.models...)
}

// CloseIdleConnections closes the idle connections of the transport.
func (p *Anthropic) CloseIdleConnections() { p.link.CloseIdleConnections() }

// RoundTrip sends req upstream as described on Anthropic. It always closes
// req.Body, and returns a response or an error, never both. A chat request
// the translation cannot express (n > 1, tool arguments that are no JSON
// object…) is an error deriving from gateway.ErrBadRequest; an operation
// other than chat, messages and count_tokens, from gateway.ErrNotFound.
func (p *Anthropic) RoundTrip(req *http.Request) (*http.Response, error) {
	closeBody(req)
	c := gateway.CallFrom(req.Context())
	if c == nil {
		return nil, errNoCall
	}
	op := c.Op
	switch op {
	case gateway.OpChat, gateway.OpMessages, gateway.OpCountTokens:
	default:
		return nil, gateway.ErrNotFound.WithMessage("provider: " + p.Name() + ": the Anthropic provider does not serve " + op.String())
	}
	if m, ok := p.modelMap[gateway.OutboundFrom(req.Context()).Model]; ok {
		req = gateway.WithModel(req, m)
	}
	sent := gateway.OutboundFrom(req.Context())
	body, u := sent.Body, p.messages
	switch op {
	case gateway.OpChat:
		mt := c.MaxTokens
		if mt == 0 {
			mt = p.maxTokens
		}
		var err error
		body, err = anthropicwire.ChatToMessages(sent.Body, anthropicwire.Facts{Model: sent.Model, Stream: c.Stream, MaxTokens: mt})
		if err != nil {
			return nil, gateway.ErrBadRequest.WithMessage("provider: " + p.Name() + ": " + err.Error())
		}
	case gateway.OpCountTokens:
		u = p.count
	}
	out := p.newRequest(req, u, body, c.Stream && op != gateway.OpCountTokens, op != gateway.OpChat)
	resp, err := p.link.send(out)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode >= 400 && !p.link.verbatimErrors:
		p.link.sanitizeError(resp)
		if op != gateway.OpChat {
			resp = anthropicwire.MessagesError(resp)
		}
	case op == gateway.OpChat:
		resp = anthropicwire.ChatResponse(resp, c.Stream, p.clock.Now().Unix())
	}
	resp.Request = req // the upstream request holds the key
	return resp, nil
}

// newRequest builds the upstream request from configuration, with the
// caller's anthropic-beta features on the native path.
func (p *Anthropic) newRequest(req *http.Request, target *url.URL, body []byte, stream, native bool) *http.Request {
	u := *target
	h := p.hdr.Clone()
	beta := p.beta
	if native {
		if caller := callerBeta(req.Header.Values("Anthropic-Beta")); caller != "" {
			if beta != "" {
				beta += ","
			}
			beta += caller
		}
	}
	if beta != "" {
		h.Set("Anthropic-Beta", beta)
	}
	if stream {
		h.Set("Accept", "text/event-stream")
		h.Set("Accept-Encoding", "identity") // see NewOpenAI: a decompressor could hold a stream back
	} else {
		h.Set("Accept", "application/json")
	}
	out := &http.Request{Method: http.MethodPost, URL: &u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Host: u.Host, Header: h, ContentLength: int64(len(body))}
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	out.Body, _ = out.GetBody()
	return out.WithContext(req.Context())
}

// callerBeta keeps the caller's anthropic-beta features that are plain
// tokens, comma-separated.
func callerBeta(values []string) string {
	var keep []string
	for _, v := range values {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); validHeaderName(f) && len(keep) < 16 {
				keep = append(keep, f)
			}
		}
	}
	return strings.Join(keep, ",")
}
