package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/clock"
	"github.com/llmgate/gateway/internal/hooks"
)

// HeaderCache is the request header that marks a call cacheable ("on") or
// not ("off") whatever its temperature; it never goes upstream.
// HeaderCacheStatus is the response header that says what the response
// cache did: "hit", "shared" or "miss" (see gateway.Call.CacheResult).
const (
	HeaderCache       = "X-Llmgate-Cache"
	HeaderCacheStatus = "X-Llmgate-Cache-Status"
)

// What a response cache did with a call, as Call.CacheResult and
// HeaderCacheStatus say it.
const (
	ResultHit    = "hit"
	ResultShared = "shared"
	ResultMiss   = "miss"
)

// Defaults of ResponseConfig.
const (
	DefaultResponseTTL      = 10 * time.Minute
	DefaultResponseMaxBytes = 64 << 20
	DefaultMaxAnswerBytes   = 1 << 20
	DefaultMaxAnswers       = 1 << 14
)

// ResponseConfig configures a ResponseCache. A zero field takes its
// default; a negative one is an error.
type ResponseConfig struct {
	TTL            time.Duration // how long an answer is served (DefaultResponseTTL)
	MaxBytes       int64         // answer bytes kept in all (DefaultResponseMaxBytes)
	MaxAnswerBytes int64         // the largest answer kept (DefaultMaxAnswerBytes)
	MaxAnswers     int           // answers kept (DefaultMaxAnswers)
	Clock          gateway.Clock // nil: the system clock
}

// Validate reports every bad field, joined.
func (c ResponseConfig) Validate() error {
	var errs []error
	if c.TTL < 0 {
		errs = append(errs, fmt.Errorf("cache: ResponseConfig.TTL %v is negative", c.TTL))
	}
	if c.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("cache: ResponseConfig.MaxBytes %d is negative", c.MaxBytes))
	}
	if c.MaxAnswerBytes < 0 {
		errs = append(errs, fmt.Errorf("cache: ResponseConfig.MaxAnswerBytes %d is negative", c.MaxAnswerBytes))
	}
	if c.MaxAnswers < 0 {
		errs = append(errs, fmt.Errorf("cache: ResponseConfig.MaxAnswers %d is negative", c.MaxAnswers))
	}
	c = c.withDefaults()
	if c.MaxAnswerBytes > c.MaxBytes {
		errs = append(errs, fmt.Errorf("cache: ResponseConfig.MaxAnswerBytes %d is over MaxBytes %d", c.MaxAnswerBytes, c.MaxBytes))
	}
	return errors.Join(errs...)
}

func (c ResponseConfig) withDefaults() ResponseConfig {
	if c.TTL == 0 {
		c.TTL = DefaultResponseTTL
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultResponseMaxBytes
	}
	if c.MaxAnswerBytes == 0 {
		c.MaxAnswerBytes = DefaultMaxAnswerBytes
	}
	if c.MaxAnswers == 0 {
		c.MaxAnswers = DefaultMaxAnswers
	}
	return c
}

// answer is a kept response: a 200 read whole, stream or not.
type answer struct {
	model   string // the model the answer was made with (Call.Served), checked with Caller.Allows
	header  http.Header
	body    []byte
	expires time.Time
}

// ResponseCache keeps the answers of cacheable calls and serves them again
// to identical calls of the same tenant, and makes identical calls in
// flight share one upstream call (see Middleware). It is bounded in answers
// and in bytes, and is safe for concurrent use. It starts one goroutine per
// upstream call it shares, which ends with that call.
type ResponseCache struct {
	cfg   ResponseConfig
	clock clock.Clock

	mu      sync.Mutex
	answers *simplelru.LRU[answerKey, *answer]
	bytes   int64
	flights map[answerKey]*recording
}

// NewResponseCache returns a ResponseCache configured by cfg.
func NewResponseCache(cfg ResponseConfig) (*ResponseCache, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	rc := &ResponseCache{cfg: cfg, clock: clock.Or(cfg.Clock), flights: make(map[answerKey]*recording)}
	var err error
	rc.answers, err = simplelru.NewLRU(cfg.MaxAnswers, func(_ answerKey, a *answer) { rc.bytes -= int64(len(a.body)) })
	if err != nil {
		return nil, err
	}
	return rc, nil
}

// Middleware returns the response cache as a gateway.Middleware. Put it
// after authentication (it scopes answers by Call.Caller.Tenant) and before
// billing and retries: an answer served from the cache reaches no provider,
// so it must reserve no budget and make no usage record.
//
// A call is cacheable when its request header X-Llmgate-Cache is "on", or,
// unless it is "off", when it is an embedding or asks for temperature 0.
// Its key is a digest of the tenant and the canonical request (see
// requestKey): one tenant never receives another's answer. A kept answer
// (a 200, read whole, within MaxAnswerBytes, for TTL) is served again with
// its status and headers, a stream as the same stream of events; an
// identical call arriving while one is in flight shares that call's
// upstream answer as it arrives. Every cacheable call's response carries
// X-Llmgate-Cache-Status and its Call records the same (CacheResult).
//
// A served answer makes no attempt, so the attempt boundary's model check
// (Caller.Allows) is made here, on the model the answer was made with: a
// key that may not use it is not served it and goes upstream, to be
// refused there. A call that joined one in flight shares its response, not
// its failure: a flight that failed with no response (a refusal may be its
// first caller's own, a budget, a model) leaves each other call to go on
// its own.
func (rc *ResponseCache) Middleware() gateway.Middleware {
	return func(next http.RoundTripper) http.RoundTripper {
		if next == nil {
			panic("cache: nil next RoundTripper")
		}
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			return rc.roundTrip(next, req)
		})
	}
}

func (rc *ResponseCache) roundTrip(next http.RoundTripper, req *http.Request) (*http.Response, error) {
	c := gateway.CallFrom(req.Context())
	mode := strings.ToLower(strings.TrimSpace(req.Header.Get(HeaderCache)))
	if _, ok := req.Header[HeaderCache]; ok {
		req = req.Clone(req.Context())
		req.Header.Del(HeaderCache)
	}
	if c == nil || mode == "off" || (c.Op != gateway.OpChat && c.Op != gateway.OpCompletion && c.Op != gateway.OpEmbedding) {
		return next.RoundTrip(req)
	}
	out := gateway.OutboundFrom(req.Context())
	key, ok := requestKey(c.Caller.Tenant, c.Op, c.Stream, out.Body, mode == "on")
	if !ok {
		return next.RoundTrip(req)
	}
	if req.Body != nil {
		// The Outbound holds the bytes; whichever call goes upstream sends
		// its own copy of them.
		req.Body.Close()
	}

	now := rc.clock.Now()
	rc.mu.Lock()
	if a, ok := rc.answers.Get(key); ok {
		switch {
		case !now.Before(a.expires):
			rc.answers.Remove(key)
		case allowed(c, a.model):
			rc.mu.Unlock()
			hooks.SetCacheResult(c, ResultHit)
			return replayAnswer(req, a), nil
		default:
			// Made with a model this caller's key may not use: it goes
			// upstream, where the attempt boundary refuses it or the
			// router finds a model it may.
			rc.mu.Unlock()
			return next.RoundTrip(resend(req, out.Body))
		}
	}
	if r := rc.flights[key]; r != nil && r.join() {
		rc.mu.Unlock()
		resp, err := r.follow(req, c)
		if err == errNotShared {
			return next.RoundTrip(resend(req, out.Body))
		}
		return resp, err
	}
	ctx, cancel := flightContext(req.Context())
	r := newRecording(cancel)
	rc.flights[key] = r
	rc.mu.Unlock()
	hooks.SetCacheResult(c, ResultMiss)
	go rc.fly(next, req, ctx, out.Body, key, r)
	return r.response(req, ResultMiss)
}

// flightContext is the context of an upstream call shared by several
// callers: the first caller's values (its Call records the attempts) and
// deadline, but not its cancellation.
func flightContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx := context.WithoutCancel(parent)
	if dl, ok := parent.Deadline(); ok {
		return context.WithDeadline(ctx, dl)
	}
	return context.WithCancel(ctx)
}

// allowed reports whether c's caller may be served an answer made with
// model (none known: an answer with no successful attempt, which holds no
// model's output).
func allowed(c *gateway.Call, model string) bool { return model == "" || c.Caller.Allows(model) }

// resend is req, whose body the cache has closed, with the Outbound's
// bytes to send again.
func resend(req *http.Request, body []byte) *http.Request {
	up := req.Clone(req.Context())
	up.Body = io.NopCloser(bytes.NewReader(body))
	up.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	up.ContentLength = int64(len(body))
	return up
}

func replayAnswer(req *http.Request, a *answer) *http.Response {
	h := a.header.Clone()
	h.Set(HeaderCacheStatus, ResultHit)
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(a.body)), ContentLength: int64(len(a.body)), Request: req,
	}
}

// keep stores a 200 read whole, when it fits, and ends its flight; the
// flight's recording has stopped growing.
func (rc *ResponseCache) keep(key answerKey, r *recording, model string, status int, header http.Header, body []byte, whole bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.flights[key] == r {
		delete(rc.flights, key)
	}
	if !whole || status != http.StatusOK || int64(len(body)) > rc.cfg.MaxAnswerBytes {
		return
	}
	a := &answer{model: model, header: keptHeader(header), body: body, expires: rc.clock.Now().Add(rc.cfg.TTL)}
	rc.answers.Remove(key)
	for rc.bytes+int64(len(body)) > rc.cfg.MaxBytes {
		if _, _, ok := rc.answers.RemoveOldest(); !ok {
			break
		}
	}
	rc.answers.Add(key, a)
	rc.bytes += int64(len(body))
}

// abandon ends a flight that will keep nothing, so that new calls do not
// join it.
func (rc *ResponseCache) abandon(key answerKey, r *recording) {
	rc.mu.Lock()
	if rc.flights[key] == r {
		delete(rc.flights, key)
	}
	rc.mu.Unlock()
}

// ResponseStats counts what a ResponseCache holds now.
type ResponseStats struct {
	Answers int   // kept
	Bytes   int64 // their bodies' bytes
	Flights int   // upstream calls in flight that identical calls may join
}

// Stats returns what the cache holds now.
func (rc *ResponseCache) Stats() ResponseStats {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return ResponseStats{Answers: rc.answers.Len(), Bytes: rc.bytes, Flights: len(rc.flights)}
}

// flightReaders counts the callers reading the answers in flight, for tests.
func (rc *ResponseCache) flightReaders() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, r := range rc.flights {
		r.mu.Lock()
		n += r.readers
		r.mu.Unlock()
	}
	return n
}

// keptHeader is what a kept answer replays of its upstream headers: not its
// length (set anew), nor what held only for the moment it was made (rate
// limits, Retry-After, cookies, the upstream's request id).
func keptHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, v := range h {
		switch {
		case k == "Content-Length", k == HeaderCacheStatus, k == "Retry-After", k == "Retry-After-Ms",
			k == "Set-Cookie", k == "Date", k == "X-Request-Id", strings.HasPrefix(k, "X-Ratelimit-"):
			continue
		}
		out[k] = append([]string(nil), v...)
	}
	return out
}
