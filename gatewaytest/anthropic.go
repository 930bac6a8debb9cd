package gatewaytest

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// AnthropicConfig configures a fake Anthropic upstream (NewAnthropic). Its
// zero value answers every Messages request with a fixed text reply.
type AnthropicConfig struct {
	// APIKey, when set, is the only x-api-key accepted; other requests get
	// 401 authentication_error.
	APIKey string
	// Reply is the text of the reply (default DefaultAnthropicReply); each
	// word is one output token and, in a stream, one text_delta.
	Reply string
	// ToolUse, when set, makes a request that offers a tool of its name
	// answered with a tool_use block calling it with ToolUse.Input (an
	// object), streamed as an empty input and input_json_delta fragments,
	// and stop_reason tool_use.
	ToolUse *AnthropicToolUse
	// Thinking, when set, starts every reply with a thinking block of this
	// text and a signature the fake checks: a request that replays a
	// thinking block with a signature it did not make gets 400, as
	// Anthropic refuses a modified block.
	Thinking string
	// Usage is reported in every answer (output tokens are counted from the
	// reply). In a stream, message_start carries the input counts and
	// message_delta the final output count.
	Usage AnthropicUsage
	// Faults are applied to every request.
	Faults AnthropicFaults
}

// AnthropicToolUse is the tool call a fake Anthropic upstream answers with.
type AnthropicToolUse struct {
	Name  string
	Input string // a JSON object; default {}
}

// AnthropicUsage are the input counts a fake Anthropic upstream reports,
// in Anthropic's terms (InputTokens excludes the cache's).
type AnthropicUsage struct {
	InputTokens, CacheReadTokens, CacheWrite5mTokens, CacheWrite1hTokens int
}

// AnthropicFaults are what a fake Anthropic upstream does wrong.
type AnthropicFaults struct {
	// Status, when set (400–599), answers every request with it and an
	// Anthropic error body (529 is overloaded_error); RetryAfter sets the
	// retry-after header.
	Status     int
	RetryAfter time.Duration
	// ErrorAfter > 0: a stream sends an error event (overloaded_error) after
	// that many content deltas, and ends.
	ErrorAfter int
	// CutAfter > 0: a stream's connection is cut after that many content
	// deltas, with no message_stop.
	CutAfter int
	// ErrorFirst: a stream sends an error event (overloaded_error) before
	// any content, after message_start: a call that may still fail over.
	ErrorFirst bool
}

// Validate reports every invalid fault at once (errors.Join): a Status
// outside 400–599, a negative RetryAfter, ErrorAfter or CutAfter.
func (f AnthropicFaults) Validate() error {
	var errs []error
	if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
		errs = append(errs, fmt.Errorf("gatewaytest: anthropic fault status %d outside 400–599", f.Status))
	}
	if f.RetryAfter < 0 || f.ErrorAfter < 0 || f.CutAfter < 0 {
		errs = append(errs, errors.New("gatewaytest: negative anthropic RetryAfter, ErrorAfter or CutAfter"))
	}
	return errors.Join(errs...)
}

// DefaultAnthropicReply is a fake Anthropic upstream's default reply.
const DefaultAnthropicReply = "Hello from the fake Anthropic upstream."

// AnthropicServer is a fake Anthropic Messages API upstream on a loopback socket,
// for tests of code that calls Anthropic (provider.Anthropic, an SDK):
// POST /v1/messages, streaming or not, in Anthropic's formats (the SSE
// grammar message_start, ping, content_block_start/delta/stop,
// message_delta, message_stop, error), and POST
// /v1/messages/count_tokens. It checks what the real API checks that a
// translation could get wrong: anthropic-version is set, max_tokens is
// given, no unknown top-level field (stream_options…), roles alternate and
// the first is user, a replayed thinking block is unchanged.
//
// It embeds a Server, as GeminiServer does, so socket faults (SetFaults)
// and the record of requests (Requests, Count) work as there; its own
// faults are SetAnthropicFaults'. An AnthropicServer is safe for concurrent
// use; Close it when done.
type AnthropicServer struct {
	*Server

	mu  sync.Mutex
	cfg AnthropicConfig
}

// NewAnthropicServer starts a fake Anthropic upstream, or returns an error
// for invalid faults (Validate), as NewGeminiServer does. The caller must
// Close it.
func NewAnthropicServer(cfg AnthropicConfig) (*AnthropicServer, error) {
	if err := cfg.Faults.Validate(); err != nil {
		return nil, err
	}
	if cfg.Reply == "" {
		cfg.Reply = DefaultAnthropicReply
	}
	a := &AnthropicServer{cfg: cfg}
	a.Server = newServer(http.HandlerFunc(a.serve))
	return a, nil
}

// BaseURL is the API root for provider.AnthropicConfig.BaseURL and
// anthropic-sdk-go's option.WithBaseURL.
func (a *AnthropicServer) BaseURL() string { return a.URL }

// SetAnthropicFaults replaces the faults for requests that arrive after it
// returns. It returns an error, and changes nothing, for invalid faults
// (Validate).
func (a *AnthropicServer) SetAnthropicFaults(f AnthropicFaults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	a.mu.Lock()
	a.cfg.Faults = f
	a.mu.Unlock()
	return nil
}

// fakeRequest is what the fake reads of a Messages request.
type fakeRequest struct {
	Model     string `json:"model"`
	MaxTokens *int   `json:"max_tokens"`
	Stream    bool   `json:"stream"`
	Messages  []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Tools []struct {
		Name string `json:"name"`
	} `json:"tools"`
}

// knownFields are the top-level fields of a Messages request; the real API
// refuses any other ("Extra inputs are not permitted").
var knownFields = map[string]bool{"model": true, "max_tokens": true, "messages": true, "system": true,
	"stream": true, "temperature": true, "top_p": true, "top_k": true, "stop_sequences": true, "tools": true,
	"tool_choice": true, "metadata": true, "thinking": true, "service_tier": true, "container": true, "mcp_servers": true}

func (a *AnthropicServer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxServerBody+1)) // recorded by the Server
	if err != nil {
		return
	}
	a.mu.Lock()
	cfg := a.cfg
	a.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" && r.URL.Path != "/v1/messages/count_tokens" {
		anthropicError(w, http.StatusNotFound, "not_found_error", "Not found")
		return
	}
	if cfg.APIKey != "" && r.Header.Get("X-Api-Key") != cfg.APIKey {
		anthropicError(w, http.StatusUnauthorized, "authentication_error", "invalid x-api-key")
		return
	}
	if r.Header.Get("Anthropic-Version") == "" {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required")
		return
	}
	if f := cfg.Faults; f.Status != 0 {
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
		}
		anthropicError(w, f.Status, anthropicErrorType(f.Status), "fake fault "+strconv.Itoa(f.Status))
		return
	}
	req, msg := a.check(body, r.URL.Path == "/v1/messages")
	if msg != "" {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", msg)
		return
	}
	if r.URL.Path == "/v1/messages/count_tokens" {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"input_tokens":%d}`, max(cfg.Usage.InputTokens, len(body)/4))
		return
	}
	rep := a.reply(&cfg, req)
	if req.Stream {
		a.stream(w, &cfg, rep)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_fake")
	_, _ = w.Write(rep.message())
}

// check validates a request as the real API does, returning the refusal.
func (a *AnthropicServer) check(body []byte, messages bool) (*fakeRequest, string) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, "invalid JSON"
	}
	for k := range top {
		if !knownFields[k] {
			return nil, k + ": Extra inputs are not permitted"
		}
	}
	var req fakeRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, "invalid request: " + err.Error()
	}
	if req.Model == "" {
		return nil, "model: Field required"
	}
	if messages && req.MaxTokens == nil {
		return nil, "max_tokens: Field required"
	}
	for i, m := range req.Messages {
		want := "user"
		if i%2 == 1 {
			want = "assistant"
		}
		if m.Role != want {
			return nil, "messages: roles must alternate between \"user\" and \"assistant\", starting with user"
		}
		if msg := a.checkThinking(m.Content); msg != "" {
			return nil, msg
		}
	}
	return &req, ""
}

// checkThinking refuses a replayed thinking block the fake did not make.
func (a *AnthropicServer) checkThinking(content json.RawMessage) string {
	var blocks []struct {
		Type, Thinking, Signature string
	}
	if json.Unmarshal(content, &blocks) != nil {
		return ""
	}
	for _, b := range blocks {
		if b.Type == "thinking" && b.Signature != signature(b.Thinking) {
			return "messages: thinking block has an invalid signature (was it modified?)"
		}
	}
	return ""
}

// signature is the fake's signature of a thinking text.
func signature(text string) string {
	h := fnv.New64a()
	h.Write([]byte(text))
	return "sig" + strconv.FormatUint(h.Sum64(), 36)
}

func anthropicErrorType(status int) string {
	switch status {
	case 400:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 529:
		return "overloaded_error"
	}
	return "api_error"
}

func anthropicError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_fake")
	w.WriteHeader(status)
	type detail struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	b, _ := json.Marshal(struct {
		Type  string `json:"type"`
		Error detail `json:"error"`
	}{"error", detail{typ, msg}})
	_, _ = w.Write(b)
}

// fakeReply is one answer, before it is written in either form.
type fakeReply struct {
	model    string
	thinking string
	words    []string
	tool     *AnthropicToolUse
	usage    AnthropicUsage
	stop     string
}

func (a *AnthropicServer) reply(cfg *AnthropicConfig, req *fakeRequest) *fakeReply {
	rep := &fakeReply{model: req.Model, thinking: cfg.Thinking, usage: cfg.Usage, stop: "end_turn"}
	if t := cfg.ToolUse; t != nil {
		for _, offered := range req.Tools {
			if offered.Name == t.Name {
				rep.tool, rep.stop = t, "tool_use"
			}
		}
	}
	if rep.tool == nil {
		rep.words = strings.SplitAfter(cfg.Reply, " ")
		if n := *req.MaxTokens; n > 0 && len(rep.words) > n {
			rep.words, rep.stop = rep.words[:n], "max_tokens"
		}
	}
	return rep
}

func (r *fakeReply) outputTokens() int {
	if r.tool != nil {
		return 8
	}
	return len(r.words)
}

func (r *fakeReply) toolInput() string {
	if r.tool.Input == "" {
		return "{}"
	}
	return r.tool.Input
}

func (r *fakeReply) usageJSON(output bool) map[string]any {
	u := map[string]any{
		"input_tokens":                r.usage.InputTokens,
		"cache_read_input_tokens":     r.usage.CacheReadTokens,
		"cache_creation_input_tokens": r.usage.CacheWrite5mTokens + r.usage.CacheWrite1hTokens,
		"cache_creation": map[string]int{"ephemeral_5m_input_tokens": r.usage.CacheWrite5mTokens,
			"ephemeral_1h_input_tokens": r.usage.CacheWrite1hTokens},
		"output_tokens": 1,
	}
	if output {
		u["output_tokens"] = r.outputTokens()
	}
	return u
}

func (r *fakeReply) message() []byte {
	var content []any
	if r.thinking != "" {
		content = append(content, map[string]string{"type": "thinking", "thinking": r.thinking, "signature": signature(r.thinking)})
	}
	if r.tool != nil {
		content = append(content, map[string]any{"type": "tool_use", "id": "toolu_fake1", "name": r.tool.Name, "input": json.RawMessage(r.toolInput())})
	} else {
		content = append(content, map[string]string{"type": "text", "text": strings.Join(r.words, "")})
	}
	b, _ := json.Marshal(map[string]any{"id": "msg_fake1", "type": "message", "role": "assistant", "model": r.model,
		"content": content, "stop_reason": r.stop, "stop_sequence": nil, "usage": r.usageJSON(true)})
	return b
}
