package gatewaytest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// GeminiServer is a fake Gemini API upstream on a real loopback socket, for
// testing code that talks to Gemini (the gateway's provider.Gemini, or
// yours): it speaks the Gemini wire format, generateContent,
// streamGenerateContent (alt=sse), countTokens (a request's characters / 4,
// the prompt tokens its answers report), embedContent, batchEmbedContents
// and the model list, under /v1beta, and answers what its GeminiReply says: text,
// thought text, function calls, a finish reason and usage. GeminiFaults make
// it fail as Gemini does: an error status with Gemini's error body (a 429
// with google.rpc.RetryInfo, a 400 API_KEY_INVALID), a stream cut after some
// events, or an error event after a 200.
//
// It checks what a real one checks and refuses, with Gemini's 400
// INVALID_ARGUMENT, what a real one refuses: a request without its key in
// x-goog-api-key (or the key query parameter, which it accepts as Gemini
// does and records, so a test can assert no key went in a URL), empty
// contents, a role other than user or model, a function response without a
// name, a stream without alt=sse.
//
// It embeds a Server, so socket faults (SetFaults) and the record of
// requests (Requests, Count) work as there. Close it when done. It is safe
// for concurrent use; SetReply and SetGeminiFaults may be called at any
// time.
type GeminiServer struct {
	*Server
	key    string
	models []string
	dims   int

	mu     sync.Mutex
	reply  GeminiReply
	faults GeminiFaults
}

// GeminiConfig configures a GeminiServer. Only APIKey is required.
type GeminiConfig struct {
	APIKey        string      // the key it accepts
	Reply         GeminiReply // default: DefaultSimReply, as one word an event
	Faults        GeminiFaults
	Models        []string // listed by GET /v1beta/models; default gemini-2.5-flash
	EmbeddingDims int      // default 8; a request's outputDimensionality overrides it
}

// GeminiReply is what a GeminiServer answers to every generateContent call.
type GeminiReply struct {
	// Text is the reply's text; a stream sends it a word an event (the
	// first event with no leading space). Empty with no FunctionCalls means
	// DefaultSimReply.
	Text string
	// Thought is thought-summary text, sent before Text in a part marked
	// thought (one event of its own when streaming).
	Thought       string
	FunctionCalls []GeminiFunctionCall // sent after the text, all in one event
	// FinishReason is the candidate's; default STOP.
	FinishReason string
	// Usage is reported in usageMetadata; zero fields take defaults: the
	// prompt's characters / 4 (at least 1), one token a word of Text.
	Usage GeminiUsage
	// NoUsage sends no usageMetadata at all.
	NoUsage bool
	// BlockReason, when set, answers with no candidates and
	// promptFeedback.blockReason, as Gemini does for a blocked prompt.
	BlockReason string
}

// GeminiFunctionCall is a function call in a reply.
type GeminiFunctionCall struct {
	ID               string // Gemini sends none by default
	Name             string
	Args             map[string]any
	ThoughtSignature string // sent on the part, as thinking models do
}

// GeminiUsage is a reply's usageMetadata.
type GeminiUsage struct {
	PromptTokens, CandidatesTokens, CachedTokens, ThoughtsTokens int
}

// GeminiFaults make every call fail the same way.
type GeminiFaults struct {
	// Status, 400–599, answers every call with Gemini's error body and that
	// status (RESOURCE_EXHAUSTED for 429, UNAVAILABLE for 503…); a 401 or
	// 403 is sent as Gemini sends a bad key: 400 with reason API_KEY_INVALID.
	Status int
	// RetryDelay goes into a 429's google.rpc.RetryInfo.
	RetryDelay time.Duration
	// CutStreams ends every stream after CutAfter events, without a
	// finishReason; with ErrorEvent it sends an error event there instead.
	CutStreams bool
	CutAfter   int
	ErrorEvent bool
}

func (f GeminiFaults) validate() error {
	var errs []error
	if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
		errs = append(errs, fmt.Errorf("gatewaytest: gemini fault status %d outside 400–599", f.Status))
	}
	if f.RetryDelay < 0 || f.CutAfter < 0 {
		errs = append(errs, errors.New("gatewaytest: negative gemini RetryDelay or CutAfter"))
	}
	return errors.Join(errs...)
}

// NewGeminiServer starts a fake Gemini upstream, or returns an error for a
// config without a key or with invalid faults.
func NewGeminiServer(cfg GeminiConfig) (*GeminiServer, error) {
	if cfg.APIKey == "" {
		return nil, errors.New("gatewaytest: a GeminiServer needs an APIKey")
	}
	if err := cfg.Faults.validate(); err != nil {
		return nil, err
	}
	if cfg.EmbeddingDims < 0 || cfg.EmbeddingDims > maxEmbeddingDims {
		return nil, fmt.Errorf("gatewaytest: gemini EmbeddingDims %d outside 0–%d", cfg.EmbeddingDims, maxEmbeddingDims)
	}
	g := &GeminiServer{key: cfg.APIKey, models: append([]string(nil), cfg.Models...), dims: cfg.EmbeddingDims,
		reply: cfg.Reply, faults: cfg.Faults}
	if len(g.models) == 0 {
		g.models = []string{"gemini-2.5-flash"}
	}
	if g.dims == 0 {
		g.dims = 8
	}
	g.Server = newServer(http.HandlerFunc(g.serve))
	return g, nil
}

// BaseURL returns the API root for a Gemini client, s.URL + "/v1beta"
// (provider.GeminiConfig.BaseURL).
func (g *GeminiServer) BaseURL() string { return g.URL + "/v1beta" }

// SetReply replaces the reply for calls that arrive after it returns.
func (g *GeminiServer) SetReply(r GeminiReply) {
	g.mu.Lock()
	g.reply = r
	g.mu.Unlock()
}

// SetGeminiFaults replaces the faults for calls that arrive after it
// returns; invalid ones are an error and change nothing.
func (g *GeminiServer) SetGeminiFaults(f GeminiFaults) error {
	if err := f.validate(); err != nil {
		return err
	}
	g.mu.Lock()
	g.faults = f
	g.mu.Unlock()
	return nil
}

func (g *GeminiServer) state() (GeminiReply, GeminiFaults) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.reply
	if r.Text == "" && len(r.FunctionCalls) == 0 && r.BlockReason == "" {
		r.Text = DefaultSimReply
	}
	if r.FinishReason == "" {
		r.FinishReason = "STOP"
	}
	return r, g.faults
}

// words splits a reply's text into the pieces a stream sends: words, each
// after the first with its leading space.
func words(text string) []string {
	f := strings.Fields(text)
	for i := 1; i < len(f); i++ {
		f[i] = " " + f[i]
	}
	return f
}

// geminiStatusNames are google.rpc status names by HTTP status.
var geminiStatusNames = map[int]string{400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
	404: "NOT_FOUND", 409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL",
	501: "NOT_IMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}

// geminiError is Gemini's error body.
func geminiError(status int, msg string, details ...map[string]any) []byte {
	name := geminiStatusNames[status]
	if name == "" {
		name = "UNKNOWN"
	}
	e := map[string]any{"code": status, "message": msg, "status": name}
	if len(details) > 0 {
		e["details"] = details
	}
	b, _ := json.Marshal(map[string]any{"error": e})
	return b
}
