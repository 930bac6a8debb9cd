package gatewaytest

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/clock"
	"github.com/llmgate/gateway/internal/jsonstr"
)

// SimConfig configures a Sim. Its zero value serves any model at once with a
// 16-token reply and no faults.
//
// What one request can make a Sim produce is bounded, whatever it asks:
// past a bound it gets a 400 invalid_request in the OpenAI shape from the
// Sim itself. An embeddings request may ask for at most 2,048 inputs, 4,096
// dimensions, and 262,144 values (inputs × dimensions, about 3 MB of JSON);
// a model name may be at most 256 bytes (every answer and event echoes it).
// A reply is CompletionTokens tokens; a configuration whose reply text would
// be over 16 MiB is refused (Validate), since a non-stream reply is built
// whole.
type SimConfig struct {
	Models           []string      // served models; empty = any model
	Latency          time.Duration // before response headers
	TTFT             time.Duration // from headers to the first content event of a stream
	TokensPerSecond  float64       // pace of content events after the first; 0 = as fast as read
	CompletionTokens int           // tokens per reply; default 16 (capped by the call's MaxTokens when set)
	// Reply is the text of the reply. It is split into words; the reply is
	// CompletionTokens tokens, each one word (after the first, with a
	// leading space, as OpenAI tokenizes), the words repeated or cut to fit.
	// Default: a fixed deterministic text (see ReplyText).
	Reply         string
	EmbeddingDims int // default 8; a request's "dimensions" overrides it
	Faults        Faults
	Seed          uint64        // fault randomness; 0 = random seed
	Clock         gateway.Clock // nil = system clock
	// RateLimitHeaders, when set, is called once per answered request; its
	// results are sent as x-ratelimit-remaining-requests and
	// x-ratelimit-remaining-tokens. It must be safe for concurrent use.
	RateLimitHeaders func() (requests, tokens int)
}

// Faults are what a Sim does wrong, drawn per call from its seeded PRNG. Each
// kind is drawn independently in the order reset, timeout, error, stall,
// cut, and the first one drawn applies; stall and cut apply to streams only.
// So each rate is the share of calls (or streams) it hits when it is the
// only one set.
type Faults struct {
	ErrorRate     float64       // share of calls answered with an error status
	ErrorStatuses []int         // statuses (400–599) drawn uniformly for those; default [500]
	RetryAfter    time.Duration // sets Retry-After (and retry-after-ms) on 429/503 answers
	TimeoutRate   float64       // share of calls that hang (no headers) until the request context ends
	ResetRate     float64       // share of calls that fail with a connection reset (a *net.OpError wrapping syscall.ECONNRESET), no response
	StallRate     float64       // share of streams that send headers, then stall before their first event until the context ends or the body is closed
	CutRate       float64       // share of streams cut (Read returns io.ErrUnexpectedEOF) after CutAfter content events
	CutAfter      int           // content events a cut stream delivers (at most the reply's length)
}

// Validate reports every invalid fault at once (errors.Join): a rate outside
// [0, 1], an error status outside 400–599, a negative RetryAfter or
// CutAfter.
func (f Faults) Validate() error {
	var errs []error
	for _, r := range []struct {
		name string
		v    float64
	}{{"ErrorRate", f.ErrorRate}, {"TimeoutRate", f.TimeoutRate}, {"ResetRate", f.ResetRate}, {"StallRate", f.StallRate}, {"CutRate", f.CutRate}} {
		if !(r.v >= 0 && r.v <= 1) { // NaN fails too
			errs = append(errs, fmt.Errorf("gatewaytest: sim fault %s %v outside [0,1]", r.name, r.v))
		}
	}
	for _, s := range f.ErrorStatuses {
		if s < 400 || s > 599 {
			errs = append(errs, fmt.Errorf("gatewaytest: sim error status %d outside 400–599", s))
		}
	}
	if f.RetryAfter < 0 {
		errs = append(errs, fmt.Errorf("gatewaytest: negative sim RetryAfter %v", f.RetryAfter))
	}
	if f.CutAfter < 0 {
		errs = append(errs, fmt.Errorf("gatewaytest: negative sim CutAfter %d", f.CutAfter))
	}
	return errors.Join(errs...)
}

func (f Faults) active() bool {
	return f.ErrorRate > 0 || f.TimeoutRate > 0 || f.ResetRate > 0 || f.StallRate > 0 || f.CutRate > 0
}

// faultState is a validated Faults with its defaults applied.
type faultState struct {
	Faults
	active bool
}

// Sim is an in-process simulated model that speaks the OpenAI wire format:
// chat completions, completions and the Responses API (streaming or not),
// embeddings and the model list. It opens no socket and, with zero latencies, starts no goroutine and
// no timer, so it is the provider of tests and benchmarks (Server
// serves it over a real socket) and the main job's embedded default.
//
// Replies are deterministic: ReplyText and ReplyTokens predict them, and the
// usage it reports has prompt_tokens = the Call's PromptTokens (the gateway's
// estimate) and completion_tokens = the content events (tokens) it sent. A
// stream always ends with a usage-only chunk before [DONE].
//
// Sim is safe for concurrent use; SetFaults may be called at any time.
type Sim struct {
	name     string
	clock    gateway.Clock
	models   []string
	served   map[string]struct{}
	latency  time.Duration
	ttft     time.Duration
	interval time.Duration // between content events; 0 = unpaced
	nTokens  int
	dims     int
	created  int64
	words    []string // the reply's words
	tokFirst []string // JSON-escaped words[i], the first token
	tokRest  []string // JSON-escaped " "+words[i], the later tokens
	maxToken int      // longest escaped token
	rlHook   func() (int, int)

	faults   atomic.Pointer[faultState]
	mu       sync.Mutex // guards rng and counts
	rng      *rand.Rand
	counts   FaultCounts
	requests atomic.Int64
}

var _ gateway.Provider = (*Sim)(nil)
var _ gateway.ModelLister = (*Sim)(nil)

// DefaultSimReply is the text a Sim replies with when SimConfig.Reply is
// empty: 16 words, so a default reply is exactly this text.
const DefaultSimReply = "This is a simulated reply from the llmgate gateway simulator, sent one token at a time."

// NewSim returns a simulator named name, or an error for an empty name or an
// invalid cfg (SimConfig.Validate).
func NewSim(name string, cfg SimConfig) (*Sim, error) {
	if name == "" {
		return nil, errors.New("gatewaytest: sim needs a name")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newSim(name, cfg), nil
}

// MustNewSim is NewSim for tests and examples, where a SimConfig is a
// literal and an invalid one a bug in the test: it panics on the error.
func MustNewSim(name string, cfg SimConfig) *Sim {
	s, err := NewSim(name, cfg)
	if err != nil {
		panic(err)
	}
	return s
}

func newSim(name string, cfg SimConfig) *Sim {
	s := &Sim{
		name:     name,
		clock:    clock.Or(cfg.Clock),
		latency:  cfg.Latency,
		ttft:     cfg.TTFT,
		nTokens:  cfg.CompletionTokens,
		dims:     cfg.EmbeddingDims,
		rlHook:   cfg.RateLimitHeaders,
		words:    strings.Fields(cfg.Reply),
		models:   append([]string(nil), cfg.Models...),
		interval: 0,
	}
	if cfg.TokensPerSecond > 0 {
		s.interval = time.Duration(float64(time.Second) / cfg.TokensPerSecond)
	}
	if s.nTokens == 0 {
		s.nTokens = defaultCompletionTokens
	}
	if s.dims == 0 {
		s.dims = 8
	}
	if cfg.Reply == "" {
		s.words = strings.Fields(DefaultSimReply)
	}
	if len(s.models) > 0 {
		s.served = make(map[string]struct{}, len(s.models))
		for _, m := range s.models {
			s.served[m] = struct{}{}
		}
	}
	for _, w := range s.words {
		s.tokFirst = append(s.tokFirst, string(jsonstr.AppendEscaped(nil, w)))
		s.tokRest = append(s.tokRest, string(jsonstr.AppendEscaped([]byte{' '}, w)))
		s.maxToken = max(s.maxToken, len(s.tokRest[len(s.tokRest)-1]))
	}
	s.created = s.clock.Now().Unix()
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	_ = s.SetFaults(cfg.Faults) // validated by NewSim
	return s
}

// Validate reports every invalid field at once (errors.Join): an empty model,
// a negative duration or count, a TokensPerSecond that is not finite, an
// EmbeddingDims out of range, a Reply with no words, a reply whose text
// would be over 16 MiB (a non-stream reply is built whole), or invalid
// Faults.
func (cfg SimConfig) Validate() error {
	var errs []error
	if cfg.Latency < 0 || cfg.TTFT < 0 {
		errs = append(errs, fmt.Errorf("gatewaytest: negative sim latency (Latency %v, TTFT %v)", cfg.Latency, cfg.TTFT))
	}
	if !(cfg.TokensPerSecond >= 0) || math.IsInf(cfg.TokensPerSecond, 0) {
		errs = append(errs, fmt.Errorf("gatewaytest: sim TokensPerSecond %v must be finite and >= 0", cfg.TokensPerSecond))
	}
	switch {
	case cfg.CompletionTokens < 0:
		errs = append(errs, fmt.Errorf("gatewaytest: negative sim CompletionTokens %d", cfg.CompletionTokens))
	case !replyFits(cfg):
		errs = append(errs, fmt.Errorf("gatewaytest: sim reply of %d tokens over %d bytes of text",
			cmp.Or(cfg.CompletionTokens, defaultCompletionTokens), maxReplyBytes))
	}
	if cfg.EmbeddingDims < 0 || cfg.EmbeddingDims > maxEmbeddingDims {
		errs = append(errs, fmt.Errorf("gatewaytest: sim EmbeddingDims %d outside 0–%d", cfg.EmbeddingDims, maxEmbeddingDims))
	}
	if cfg.Reply != "" && len(strings.Fields(cfg.Reply)) == 0 {
		errs = append(errs, fmt.Errorf("gatewaytest: sim Reply has no words"))
	}
	for _, m := range cfg.Models {
		if m == "" {
			errs = append(errs, fmt.Errorf("gatewaytest: empty model name in sim"))
			break
		}
	}
	if err := cfg.Faults.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Name returns the name given to NewSim.
func (s *Sim) Name() string { return s.name }

// Models returns a copy of the served models, or nil when it serves any.
func (s *Sim) Models() []string {
	if len(s.models) == 0 {
		return nil
	}
	return append([]string(nil), s.models...)
}

// SetFaults replaces the faults for calls that start after it returns (a
// stream already started keeps the faults drawn for it). It returns an error
// for invalid faults (Faults.Validate) and changes nothing then.
func (s *Sim) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	f.ErrorStatuses = append([]int(nil), f.ErrorStatuses...)
	if len(f.ErrorStatuses) == 0 {
		f.ErrorStatuses = []int{500}
	}
	s.faults.Store(&faultState{Faults: f, active: f.active()})
	return nil
}

// Faults returns the faults in effect.
func (s *Sim) Faults() Faults {
	f := s.faults.Load().Faults
	f.ErrorStatuses = append([]int(nil), f.ErrorStatuses...)
	return f
}

// Requests returns how many calls RoundTrip has received, faulty ones
// included: the upstream attempts a test can count.
func (s *Sim) Requests() int64 { return s.requests.Load() }

// ReplyTokens returns the completion tokens of a reply to a call with the
// given max_tokens (0 = unset): CompletionTokens, capped by maxTokens.
func (s *Sim) ReplyTokens(maxTokens int) int {
	if maxTokens > 0 && maxTokens < s.nTokens {
		return maxTokens
	}
	return s.nTokens
}

// ReplyText returns the content of a reply to a call with the given
// max_tokens (0 = unset): ReplyTokens(maxTokens) words of the reply text,
// separated by single spaces.
func (s *Sim) ReplyText(maxTokens int) string {
	n := s.ReplyTokens(maxTokens)
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s.words[i%len(s.words)])
	}
	return b.String()
}

// token returns the i-th token of the reply, JSON-escaped.
func (s *Sim) token(i int) string {
	if i == 0 {
		return s.tokFirst[0]
	}
	return s.tokRest[i%len(s.words)]
}

// Fault kinds drawn per call.
type faultKind uint8

const (
	faultNone faultKind = iota
	faultReset
	faultTimeout
	faultError
	faultStall
	faultCut
)

type drawn struct {
	kind     faultKind
	status   int // faultError
	retry    time.Duration
	cutAfter int
}

// draw picks the fault of one call. It takes the lock only when a fault is
// configured, so a healthy Sim's calls never contend.
func (s *Sim) draw(stream bool) drawn {
	f := s.faults.Load()
	if !f.active {
		return drawn{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	hit := func(rate float64) bool { return rate > 0 && s.rng.Float64() < rate }
	switch {
	case hit(f.ResetRate):
		s.counts.Resets++
		return drawn{kind: faultReset}
	case hit(f.TimeoutRate):
		s.counts.Timeouts++
		return drawn{kind: faultTimeout}
	case hit(f.ErrorRate):
		s.counts.Errors++
		st := f.ErrorStatuses[0]
		if len(f.ErrorStatuses) > 1 {
			st = f.ErrorStatuses[s.rng.IntN(len(f.ErrorStatuses))]
		}
		return drawn{kind: faultError, status: st, retry: f.RetryAfter}
	case stream && hit(f.StallRate):
		s.counts.Stalls++
		return drawn{kind: faultStall}
	case stream && hit(f.CutRate):
		s.counts.Cuts++
		return drawn{kind: faultCut, cutAfter: f.CutAfter}
	}
	return drawn{}
}

// FaultCounts are the faults a Sim has injected, by kind.
type FaultCounts struct {
	Resets, Timeouts, Errors, Stalls, Cuts int64
}

// FaultCounts returns how many faults of each kind the Sim has drawn so far,
// so a test can assert on what was injected rather than on rates.
func (s *Sim) FaultCounts() FaultCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}

var simSeq atomic.Uint64

// nextID returns a process-unique number for response ids.
func nextID() uint64 { return simSeq.Add(1) }
