package gateway

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// Usage is what a call consumed, in OpenAI's terms: PromptTokens counts
// every input token, including those read from or written to a prompt cache
// (an adapter for a provider that counts them apart, such as Anthropic, adds
// them in). The cache and reasoning fields say how many of them were which.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	// CachedTokens of the prompt were read from the provider's prompt cache.
	CachedTokens int `json:"cached_tokens,omitempty"`
	// CacheWriteTokens of the prompt were written to the prompt cache, all
	// lifetimes together; CacheWrite1hTokens of them with a one-hour
	// lifetime (priced apart by Anthropic), the rest with the default.
	CacheWriteTokens   int `json:"cache_write_tokens,omitempty"`
	CacheWrite1hTokens int `json:"cache_write_1h_tokens,omitempty"`
	// ReasoningTokens of the completion were reasoning, where reported.
	ReasoningTokens int  `json:"reasoning_tokens,omitempty"`
	Estimated       bool `json:"estimated,omitempty"` // the provider reported none
}

// Call is one request through the gateway, parsed once at the entry point
// and carried in the request context (CallFrom).
//
// Its fields are set before the call is dispatched: by the entry point, or by
// an outer middleware (authentication sets Caller) before it calls the next
// one; inner middlewares only read them. What happens during the call is
// recorded by the gateway itself, each fact by one owner, and read through
// methods that are safe for concurrent use: the attempts by the attempt
// boundary in front of each Provider (see Chain), the usage and the result by
// the entry point. No middleware can write them.
type Call struct {
	ID           string // unique request id; the idempotency key of its usage records
	Op           Op
	Model        string // the model asked for
	Stream       bool   // a stream was asked for, on an op that streams (chat, completions, Messages, Responses)
	IncludeUsage bool   // the caller asked for stream_options.include_usage
	MaxTokens    int    // max_tokens or max_completion_tokens; 0 when unset
	PromptTokens int    // estimate from the body, before the call
	Start        time.Time
	Caller       Caller

	first Outbound // what the first attempt sends; see OutboundFrom
	clock Clock
	lim   *Limits

	mu       sync.Mutex
	attempts []Attempt
	// Most calls make one attempt; it needs no allocation.
	attemptBuf [1]Attempt
	usage      Usage
	usageSet   bool
	claimed    [2]any // most calls claim one budget
	claimedN   int
	claimedX   []any
	ended      bool
	gone       bool          // the caller left before its response was complete
	sent       int           // the status line the handler wrote (wroteStatus); 0: none yet
	failed     error         // what failed the answer as the handler copied it (failAnswer); nil: nothing
	waited     time.Duration // for capacity (Retry-After, a cooling target), by every layer
	cached     string        // what a response cache did; see CacheResult
	server     bool          // the entry point is NewHandler (see entry.dispatch)
	retrieve   string        // a model retrieval's id (GET /v1/models/{id}): dispatch answers its entry of the list
	// Attempt boundaries still running (a hedge's loser, say): the
	// observers wait for them, so they see every attempt.
	inFlight   int
	started    int    // attempts started, for their kinds (attemptStarted)
	lastTarget string // the target of the attempt started last
	observed   bool
	status     int
	err        error
	observers  []func(*Call)
	// ends are told before the observers (see onEnd); most calls have at
	// most one, which needs no allocation.
	ends    []func()
	endsBuf [1]func()
	hdrs    [][2]string // hooks.SetHeader: headers the gateway sets for the caller
	// hooks.OnAttempt: told of each attempt recorded (a tracer's spans).
	attemptFns []func(context.Context, any)

	// Embedded so that the entry point allocates one object per call.
	ctx       callContext
	tap       usageTap
	reader    bodyReader
	firstBody attemptBody
}

// Attempts returns a copy of the attempts recorded so far, in the order they
// ended.
func (c *Call) Attempts() []Attempt {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Attempt, len(c.attempts))
	copy(out, c.attempts)
	return out
}

// AppendAttempts appends the attempts recorded so far, in the order they
// ended, to dst and returns the result: Attempts without an allocation when
// dst has room, for an observer on every call (package metrics).
func (c *Call) AppendAttempts(dst []Attempt) []Attempt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append(dst, c.attempts...)
}

// Served returns the target and model of the attempt whose successful
// response reached the caller: the last 2xx attempt the caller read from, or,
// when the caller read none, the last 2xx attempt. It returns empty strings
// if no attempt succeeded.
func (c *Call) Served() (target, model string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	last := -1
	for i := len(c.attempts) - 1; i >= 0; i-- {
		a := &c.attempts[i]
		if a.Status/100 != 2 || a.Err != "" {
			continue
		}
		if a.delivered {
			return a.Target, a.Model
		}
		if last < 0 {
			last = i
		}
	}
	if last < 0 {
		return "", ""
	}
	return c.attempts[last].Target, c.attempts[last].Model
}

// Usage returns the usage recorded when the response body ended, and whether
// it has been recorded yet.
func (c *Call) Usage() (Usage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.usage, c.usageSet
}

// Result reports how the call ended for its caller, once it has (0 and nil
// before): the status it was answered with (the response's, the status of the
// error it got, or 499 when the caller went away first) and, when it failed,
// why: the *Error it was refused or failed with (ErrorFor of the failure, or
// of the read error that cut its response body), whose cause errors.Unwrap
// reaches. An upstream's error response is a status, not an error. In server
// mode a call ends once its response has been written to the caller, and a
// call the server cut short (its base context cancelled with a cause, as at
// the end of a shutdown) failed with that cause, e.g. ErrShuttingDown.
func (c *Call) Result() (status int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status, c.err
}

// CacheResult says what a response cache (package cache) did with the
// call, recorded once by it: "" when none was asked (no response cache, or
// a call it does not keep), "miss" when the call went upstream and its
// answer may be kept, "hit" when a kept answer was served, "shared" when it
// was served the answer of an identical call in flight. A "hit" or
// "shared" call reached no provider: it has no Attempts, Served is empty,
// and no usage record belongs to it; its Usage is what the answer it was
// served reports (what that answer cost when it was made).
func (c *Call) CacheResult() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cached
}

// setCached records what a response cache did, once: the first record
// stands (see hooks.SetCacheResult).
func (c *Call) setCached(result string) {
	c.mu.Lock()
	if c.cached == "" {
		c.cached = result
	}
	c.mu.Unlock()
}

// once reports whether key is claimed for the first time on this call (see
// hooks.CallOnce).
func (c *Call) once(key any) bool {
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

// wait accounts d more of waiting for capacity and returns the total so
// far; wait(0) reads it. Retry and the router share it through
// hooks.Waited, so that their waits together stay within one MaxWait.
func (c *Call) wait(d time.Duration) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waited += d
	return c.waited
}

// recordAttempt appends a, numbering it, returns its number, and tells
// what hooks.OnAttempt registered, with ctx, outside the lock. Only the
// attempt boundary calls it.
func (c *Call) recordAttempt(ctx context.Context, a Attempt) int {
	c.mu.Lock()
	a.N = len(c.attempts) + 1
	if c.attempts == nil {
		c.attempts = c.attemptBuf[:0]
	}
	c.attempts = append(c.attempts, a)
	fns := c.attemptFns
	c.mu.Unlock()
	for _, fn := range fns {
		fn(ctx, a)
	}
	return a.N
}

// onAttempt adds fn to what recordAttempt tells (hooks.OnAttempt).
func (c *Call) onAttempt(fn func(context.Context, any)) {
	c.mu.Lock()
	c.attemptFns = append(c.attemptFns[:len(c.attemptFns):len(c.attemptFns)], fn)
	c.mu.Unlock()
}

// markDelivered notes that the caller read from attempt n's response.
func (c *Call) markDelivered(n int) {
	c.mu.Lock()
	if n >= 1 && n <= len(c.attempts) {
		c.attempts[n-1].delivered = true
	}
	c.mu.Unlock()
}

// setUsage records the call's usage. Only the usage tap calls it, once.
func (c *Call) setUsage(u Usage) {
	c.mu.Lock()
	c.usage, c.usageSet = u, true
	c.mu.Unlock()
}

// end records the call's result and tells the observers, exactly once: the
// first call wins and later ones do nothing. When attempts are still running
// below (a hedge's loser finishing), the observers are told when the last of
// them has been recorded, so that they see every attempt. It must not be
// called with c.mu held.
func (c *Call) end(status int, err error) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended, c.status, c.err = true, status, err
	c.observeLocked()
}

// attemptStarted and attemptEnded bracket an attempt boundary's round trip.
// attemptStarted returns what the attempt at target is to the call (the one
// place an attempt's kind is decided): a hedge when another attempt of the
// call is running, else a retry when the attempt started before it went to
// the same target, a fallback when it went to another, the first when none
// did.
//
// The start it returns is what attemptNotMade takes back.
func (c *Call) attemptStarted(target string) (kind AttemptKind, st attemptStart) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kind, st.prevTarget = AttemptFirst, c.lastTarget
	switch {
	case c.inFlight > 0:
		kind = AttemptHedge
	case c.started > 0 && c.lastTarget == target:
		kind = AttemptRetry
	case c.started > 0:
		kind = AttemptFallback
	}
	c.inFlight++
	c.started++
	c.lastTarget = target
	st.started = c.started
	return kind, st
}

// attemptStart is what attemptStarted changed, for attemptNotMade.
type attemptStart struct {
	prevTarget string
	started    int // the count it made
}

// attemptNotMade takes back an attemptStarted whose Provider refused the
// request before sending it (it does not serve the call's operation): no
// request was made, so the next attempt's kind is decided as if this one
// had never started. When another attempt has started since (a hedge), it
// is left as it is: that one's target is the latest. attemptEnded still
// follows.
func (c *Call) attemptNotMade(st attemptStart) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started == st.started {
		c.started--
		c.lastTarget = st.prevTarget
	}
}

func (c *Call) attemptEnded() {
	c.mu.Lock()
	c.inFlight--
	c.observeLocked()
}

// observeLocked tells the observers, once, when the call has ended and no
// attempt is running. It is called with c.mu held and releases it.
func (c *Call) observeLocked() {
	if !c.ended || c.inFlight > 0 || c.observed {
		c.mu.Unlock()
		return
	}
	c.observed = true
	obs, ends := c.observers, c.ends
	c.mu.Unlock()
	for _, fn := range ends {
		fn()
	}
	for _, o := range obs {
		o(c)
	}
}

// onEnd adds fn to what is told, once, that the call has ended: at the
// moment its observers are (its attempts, usage and Result final), just
// before them, in the order added. A call that has ended already runs fn at
// once. It is how a middleware (the billing Meter, through hooks.OnEnd)
// settles what it holds for a call, however the call ends.
func (c *Call) onEnd(fn func()) {
	c.mu.Lock()
	if c.observed {
		c.mu.Unlock()
		fn()
		return
	}
	if c.ends == nil {
		c.ends = c.endsBuf[:0]
	}
	c.ends = append(c.ends, fn)
	c.mu.Unlock()
}

// setHeader sets a header the gateway itself sends its caller with this
// call's answer, whatever the answer is: the response, or the error the
// call was refused with (hooks.SetHeader). A later value for the same name
// replaces the earlier one.
func (c *Call) setHeader(name, value string) {
	name = http.CanonicalHeaderKey(name)
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.hdrs {
		if c.hdrs[i][0] == name {
			c.hdrs[i][1] = value
			return
		}
	}
	if c.hdrs == nil {
		c.hdrs = make([][2]string, 0, 6) // a limiter's six x-ratelimit-* headers
	}
	c.hdrs = append(c.hdrs, [2]string{name, value})
}

// writeHeaders sets the call's own headers (setHeader) in h, replacing any
// of the same name.
func (c *Call) writeHeaders(h http.Header) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.hdrs) == 0 {
		return
	}
	vals := make([]string, len(c.hdrs)) // one allocation for all of them
	for i, kv := range c.hdrs {
		vals[i] = kv[1]
		h[kv[0]] = vals[i : i+1 : i+1]
	}
}

type callKey struct{}

// callContext is a context node that carries a Call and its first Outbound.
// Each Call embeds one so that binding it costs no allocation; bind is called
// once per Call.
type callContext struct {
	context.Context
	call *Call
}

func (c *callContext) Value(key any) any {
	switch key {
	case callKey{}:
		return c.call
	case outboundKey{}:
		return &c.call.first
	}
	return c.Context.Value(key)
}

// bind returns a context derived from parent that carries c. It must be called
// at most once per Call.
func (c *Call) bind(parent context.Context) context.Context {
	c.ctx = callContext{Context: parent, call: c}
	return &c.ctx
}

// CallFrom returns the Call carried by ctx, or nil.
func CallFrom(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	return c
}
