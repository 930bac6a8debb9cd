package gateway

import (
	"context"
	"sync"
	"time"
)

// Op is the operation a call asks for, named by the request path.
type Op uint8

// The operations the gateway understands.
const (
	OpUnknown    Op = iota
	OpChat          // POST /v1/chat/completions
	OpCompletion    // POST /v1/completions
	OpEmbedding     // POST /v1/embeddings
	OpModels        // GET /v1/models
)

var opNames = [...]string{"unknown", "chat", "completion", "embedding", "models"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "unknown"
}

// Path is the OpenAI path of the operation ("/v1/chat/completions"…).
func (o Op) Path() string {
	switch o {
	case OpChat:
		return "/v1/chat/completions"
	case OpCompletion:
		return "/v1/completions"
	case OpEmbedding:
		return "/v1/embeddings"
	case OpModels:
		return "/v1/models"
	}
	return ""
}

// OpFromPath names the operation of a request path. It matches on the suffix,
// so "/v1/chat/completions", "/openai/v1/chat/completions" and an SDK base URL
// with a prefix all map to OpChat.
func OpFromPath(path string) Op {
	switch {
	case hasSuffix(path, "/chat/completions"):
		return OpChat
	case hasSuffix(path, "/completions"):
		return OpCompletion
	case hasSuffix(path, "/embeddings"):
		return OpEmbedding
	case hasSuffix(path, "/models"):
		return OpModels
	}
	return OpUnknown
}

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}

// Caller says who is calling. It is set by authentication (in server mode) or
// by the application (in client mode, with the Call it builds) and never holds
// a secret: KeyID names a key, it is not the key.
type Caller struct {
	KeyID    string
	Tenant   string
	Priority int
	// Models the caller may use; empty means any. Checked on the model
	// actually dispatched, not only the one asked.
	Models []string
}

// Usage is what a call consumed.
type Usage struct {
	PromptTokens     int  `json:"prompt_tokens"`
	CompletionTokens int  `json:"completion_tokens"`
	CachedTokens     int  `json:"cached_tokens,omitempty"`
	Estimated        bool `json:"estimated,omitempty"` // the provider reported none
}

// TotalTokens is PromptTokens + CompletionTokens.
func (u Usage) TotalTokens() int { return u.PromptTokens + u.CompletionTokens }

// Attempt is one try of a call against one target.
type Attempt struct {
	N       int    // 1-based, in the order attempts were recorded
	Target  string // provider name
	Model   string // model sent upstream (after renames)
	Status  int    // HTTP status, 0 when the attempt failed without a response
	Err     string // failure, if any; never holds a secret or an upstream URL
	Start   time.Time
	Latency time.Duration // until response headers (or failure)
	TTFT    time.Duration // until the first content event of a stream; 0 if none
}

// Call is one request through the gateway, parsed once at the entry point
// and carried in the request context (CallFrom).
//
// The fields above the line are set before the call is dispatched: at the
// entry point, or by an outer middleware (authentication sets Caller) before
// it calls the next one; inner middlewares only read them. What happens
// during the call (attempts, the served model, usage) goes through methods,
// which are safe for concurrent use.
type Call struct {
	ID           string // unique request id; the idempotency key of its usage records
	Op           Op
	Model        string // the model asked for
	Stream       bool
	IncludeUsage bool // the caller asked for stream_options.include_usage
	MaxTokens    int  // max_tokens or max_completion_tokens; 0 when unset
	PromptTokens int  // estimate from the body, before the call
	// Body is the request body as the caller sent it. It must not be
	// modified; build a new slice to change it (SetModel does).
	Body   []byte
	Start  time.Time
	Caller Caller

	mu       sync.Mutex
	attempts []Attempt
	// Most calls make one attempt; it needs no allocation.
	attemptBuf [1]Attempt
	usage      Usage
	usageSet   bool
	firstTok   time.Time
	hasOpts    bool
	claimed    [4]any
	claimedN   int
	claimedX   []any
	// Span of the model's JSON string in Body, quotes included.
	modelStart, modelEnd int

	// Embedded so that the entry point allocates one object per call.
	ctx    callContext
	idBuf  [idLen]byte
	tap    usageTap
	reader bodyReader
}

// Attempts returns a copy of the attempts recorded so far.
func (c *Call) Attempts() []Attempt {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Attempt, len(c.attempts))
	copy(out, c.attempts)
	return out
}

// Once reports whether key is claimed for the first time on this call. Layers
// that share per-call work use it to do that work once: a retry budget shared
// by Retry and a router is credited once per call with Once(budget). key must
// be comparable.
func (c *Call) Once(key any) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range c.claimed[:c.claimedN] {
		if k == key {
			return false
		}
	}
	for _, k := range c.claimedX {
		if k == key {
			return false
		}
	}
	if c.claimedN < len(c.claimed) {
		c.claimed[c.claimedN] = key
		c.claimedN++
	} else {
		c.claimedX = append(c.claimedX, key)
	}
	return true
}

// AttemptCount is the number of attempts recorded so far.
func (c *Call) AttemptCount() int { return c.attemptCount() }

func (c *Call) attemptCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.attempts)
}

// RecordAttempt appends a to the call's attempts, numbering it, and returns its
// number. Whoever dispatches to a target (the router, or the entry point over
// a bare provider) records one attempt per dispatch.
func (c *Call) RecordAttempt(a Attempt) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	a.N = len(c.attempts) + 1
	if c.attempts == nil {
		c.attempts = c.attemptBuf[:0]
	}
	c.attempts = append(c.attempts, a)
	return a.N
}

// Served returns the target and model of the last attempt that got a 2xx
// response, or empty strings if none did.
func (c *Call) Served() (target, model string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.attempts) - 1; i >= 0; i-- {
		if s := c.attempts[i].Status; s >= 200 && s < 300 {
			return c.attempts[i].Target, c.attempts[i].Model
		}
	}
	return "", ""
}

// Usage returns the usage recorded when the response body ended, and whether
// it has been recorded yet.
func (c *Call) Usage() (Usage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.usage, c.usageSet
}

// SetUsage records the call's usage. The entry point calls it once, when the
// response body reaches its end or is closed.
func (c *Call) SetUsage(u Usage) {
	c.mu.Lock()
	c.usage, c.usageSet = u, true
	c.mu.Unlock()
}

// FirstTokenAt is when the first content event of the response reached the
// entry point, or the zero time.
func (c *Call) FirstTokenAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.firstTok
}

func (c *Call) setFirstToken(t time.Time) {
	c.mu.Lock()
	if c.firstTok.IsZero() {
		c.firstTok = t
	}
	c.mu.Unlock()
}

type callKey struct{}

// callContext is a context node that carries a Call. Each Call embeds one so
// that binding it costs no allocation; bind is called once per Call.
type callContext struct {
	context.Context
	call *Call
}

func (c *callContext) Value(key any) any {
	if key == (callKey{}) {
		return c.call
	}
	return c.Context.Value(key)
}

// bind returns a context derived from parent that carries c. It must be called
// at most once per Call.
func (c *Call) bind(parent context.Context) context.Context {
	c.ctx = callContext{Context: parent, call: c}
	return &c.ctx
}

// WithCall returns a copy of ctx that carries c.
func WithCall(ctx context.Context, c *Call) context.Context {
	return &callContext{Context: ctx, call: c}
}

// CallFrom returns the Call carried by ctx, or nil.
func CallFrom(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	return c
}
