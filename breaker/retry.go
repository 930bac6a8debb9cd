package breaker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/clock"
	"github.com/llmgate/gateway/internal/hooks"
)

// RetryConfig configures Retry. The zero value retries up to twice (3
// attempts), with full-jitter backoff from 250 ms up to 8 s, within a 2 min
// deadline, under a budget of its own. A field left zero takes its default; a
// negative one is an error (Validate).
type RetryConfig struct {
	// MaxAttempts is the most attempts per call, the first included.
	// Default 3.
	MaxAttempts int
	// BaseDelay and MaxDelay shape the backoff: before retry n the wait is
	// drawn uniformly from [0, min(MaxDelay, BaseDelay·2^(n-1))) ("full
	// jitter"), so retries from many callers spread out. Defaults 250 ms
	// and 8 s.
	BaseDelay, MaxDelay time.Duration
	// Deadline bounds the retrying: no wait ends and no attempt starts
	// later than Deadline after the call started (the Call's Start, as the
	// entry point stamps it; without one, the end of the first attempt),
	// nor after the caller's context deadline; the last outcome is returned
	// instead. A 429 or 503 that asks for a wait (Retry-After, or the
	// Retry-After of a refusal from inside, such as an open circuit or a
	// router with every target cooling down) makes the next attempt wait at
	// least that long, the latest attempt's governing; a wait that would
	// pass the deadline returns the outcome at once, Retry-After intact. An
	// attempt's own duration is bounded by Timeouts inside Retry, so a call
	// takes at most Deadline plus one attempt. Default 2 min.
	Deadline time.Duration
	// MaxWait bounds a call's waits for capacity in all: for a Retry-After
	// (an upstream's, or the one on a refusal from inside, such as an open
	// circuit or a router whose targets are all cooling down), and a
	// router's waits for a cooling target, which count in the same account.
	// An outcome asking for a wait past it is returned at once, Retry-After
	// intact, so that a caller hears when to come back instead of hanging
	// on a fleet that cannot serve soon. Default DefaultMaxWait, the
	// router's default too.
	MaxWait time.Duration
	// Budget bounds retries across calls; share one between the Retry, Hedge
	// and router of a service: each credits it through Budget.OnCall, so a
	// call deposits once however many of them it passes. Nil means a
	// default budget of this Retry's own.
	Budget *Budget
	// Classify decides which outcomes are retried (Class.Retryable); nil
	// means the package's Classify.
	Classify Classifier
	// Idempotent reports whether a request may be sent again after an
	// ambiguous failure (Ambiguous), one after which the upstream may have
	// acted on it (a timeout or a reset, as opposed to a refused connection
	// or an error status). Nil means DefaultIdempotent. Give a router inside
	// the same func (router.Config.Idempotent), so that its fallbacks
	// follow the same rule.
	Idempotent func(*http.Request) bool
	// MaxBodyBytes bounds a request body Retry must buffer to replay (one
	// that comes without GetBody; the gateway's entry points always set
	// it). Default 10 MiB.
	MaxBodyBytes int64
	// Rand returns a number in [0, 1) for the jitter; nil means
	// math/rand/v2's. It must be safe for concurrent use.
	Rand func() float64
	// Clock is the source of time for waits and the deadline; nil means the
	// system clock.
	Clock gateway.Clock
}

// Defaults of RetryConfig.
const (
	DefaultMaxAttempts   = 3
	DefaultBaseDelay     = 250 * time.Millisecond
	DefaultMaxDelay      = 8 * time.Second
	DefaultRetryDeadline = 2 * time.Minute
	// DefaultMaxWait is the default of RetryConfig.MaxWait and of the
	// router's wait for a cooling-down target: a wait a caller hardly
	// notices, and long enough for the usual one- or two-second
	// Retry-After of a rate limit.
	DefaultMaxWait = 2 * time.Second
)

// defaultMaxBodyBytes is the default bound on a body Retry or Hedge buffers.
const defaultMaxBodyBytes = 10 << 20

func (c RetryConfig) withDefaults() RetryConfig {
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.BaseDelay == 0 {
		c.BaseDelay = DefaultBaseDelay
	}
	if c.MaxDelay == 0 {
		c.MaxDelay = max(DefaultMaxDelay, c.BaseDelay)
	}
	if c.Deadline == 0 {
		c.Deadline = DefaultRetryDeadline
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.Budget == nil {
		c.Budget = newBudget(BudgetConfig{Clock: c.Clock}.withDefaults())
	}
	if c.Classify == nil {
		c.Classify = Classify
	}
	if c.Idempotent == nil {
		c.Idempotent = DefaultIdempotent
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = defaultMaxBodyBytes
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	c.Clock = clock.Or(c.Clock)
	return c
}

// Validate reports a negative value, or a MaxDelay below BaseDelay (once the
// defaults are applied).
func (c RetryConfig) Validate() error {
	if c.MaxAttempts < 0 || c.BaseDelay < 0 || c.MaxDelay < 0 || c.Deadline < 0 || c.MaxWait < 0 || c.MaxBodyBytes < 0 {
		return fmt.Errorf("breaker: invalid RetryConfig: negative value")
	}
	if d := c.withDefaults(); d.MaxDelay < d.BaseDelay {
		return fmt.Errorf("breaker: invalid RetryConfig: MaxDelay %v < BaseDelay %v", d.MaxDelay, d.BaseDelay)
	}
	return nil
}

// DefaultIdempotent is the default Idempotent of RetryConfig and of
// router.Config (one rule for retries and fallbacks): true for GET, HEAD,
// OPTIONS, TRACE, PUT and DELETE, for a request with an Idempotency-Key (or
// X-Idempotency-Key) header, and for the model operations of a Call (chat,
// completion, embedding, model list), which change nothing upstream but
// its bill. Any other POST, such as a file upload through an unknown path,
// is not retried after an ambiguous failure.
func DefaultIdempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	if req.Header.Get("Idempotency-Key") != "" || req.Header.Get("X-Idempotency-Key") != "" {
		return true
	}
	c := gateway.CallFrom(req.Context())
	return c != nil && c.Op != gateway.OpUnknown
}

// Retry returns a middleware that sends a call again when an attempt fails
// in a way another attempt may not (Class.Retryable): with full-jitter
// exponential backoff, at least the Retry-After the upstream asked for (one
// longer than MaxWait returns the outcome at once), at most MaxAttempts
// attempts, within one deadline, and only while the Budget allows, so an
// outage everywhere cannot multiply the load. A run that sent nothing
// upstream (every target refused before sending) costs no budget: the next
// run's attempt is the call's first.
//
// It never retries the caller's cancellation, a Fatal outcome (400, 401,
// 403, 404, 413, 422…), or an ambiguous failure of a non-idempotent request.
// A stream is held at the attempt boundary until its first content event
// (see gateway.Chain): one that fails before it reaches Retry as a failed
// round trip and is retried with nothing sent to the caller; after it,
// nothing is retried and a failure reaches the caller as a read error.
//
// Retry only repeats the chain inside it: the attempts are recorded by the
// attempt boundary in front of each Provider, never by Retry. It credits its
// Budget once per call (Budget.OnCall), however many layers share it.
//
// The request body is made replayable before the first attempt: GetBody is
// used when set (the gateway's entry points set it), else the body is read
// once into memory, up to MaxBodyBytes. A discarded response's body is
// closed before the next attempt.
//
// It returns an error for an invalid config (Validate) and panics on a nil
// next. The returned RoundTripper is safe for concurrent use.
func Retry(cfg RetryConfig) (gateway.Middleware, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return func(next http.RoundTripper) http.RoundTripper {
		if next == nil {
			panic("breaker: nil RoundTripper")
		}
		return &retryTransport{cfg: cfg, next: next}
	}, nil
}

type retryTransport struct {
	cfg  RetryConfig
	next http.RoundTripper
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	cfg := &t.cfg
	ctx := req.Context()
	call := gateway.CallFrom(ctx)
	cfg.Budget.OnCall(call)
	req, err := replayable(req, cfg.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	var deadline time.Time // set at the first failure; no clock read on the success path
	charged := -1          // the call's attempts when the next run was charged to the budget; -1: not charged
	for n := 1; ; n++ {
		out := req
		if n > 1 {
			if out, err = rewind(req); err != nil {
				return nil, err
			}
		}
		resp, err := t.next.RoundTrip(out)
		if err != nil && resp != nil { // a RoundTripper broke its contract; don't leak
			resp.Body.Close()
			resp = nil
		}
		if charged >= 0 && attempts(call) == charged {
			cfg.Budget.Refund() // the run sent nothing: no retry was made
		}
		charged = -1
		c := cfg.Classify(req, resp, err)
		if !c.Retryable() || n >= cfg.MaxAttempts || (Ambiguous(resp, err) && !cfg.Idempotent(req)) {
			return resp, err
		}
		now := cfg.Clock.Now()
		if deadline.IsZero() {
			deadline = t.deadline(ctx, call, now)
		}
		wait := t.backoff(n)
		capacity := false // the wait is one for capacity, which MaxWait bounds
		if ra, ok := t.retryAfter(resp, err, c, now); ok {
			if waited(call, 0)+ra > cfg.MaxWait {
				return resp, err // not soon: the caller hears when to come back
			}
			wait, capacity = max(wait, ra), true
		}
		if now.Add(wait).After(deadline) {
			return resp, err
		}
		if sent := attempts(call); sent != 0 {
			if !cfg.Budget.TryRetry() {
				return resp, err
			}
			charged = sent // refunded if the next run sends nothing either
		}
		if resp != nil {
			discard(resp.Body)
		}
		if err := clock.Sleep(ctx, cfg.Clock, wait); err != nil {
			return nil, err
		}
		if capacity {
			waited(call, wait)
		}
	}
}

// attempts returns how many upstream attempts the call has made, or -2
// without a Call (every run then counts as sent). A run that sent nothing
// (every target was cooling down, a circuit was open) is no retry: before
// the call's first attempt the next run is not charged to the budget, and
// a charged run that sends nothing is refunded.
func attempts(call *gateway.Call) int {
	if call == nil {
		return -2
	}
	return len(call.Attempts())
}

// waited adds d to the call's time waited for capacity and returns the
// total: one account for Retry and the router (a call without a Call has
// waited nothing, since its waits are one at a time).
func waited(call *gateway.Call, d time.Duration) time.Duration {
	if call == nil {
		return 0
	}
	return hooks.Waited(call, d)
}

// deadline returns the end of the retrying: Deadline after the call started
// (the Call's Start, stamped by the entry point, else now, the end of the
// first attempt), or the caller's context deadline if that is sooner.
func (t *retryTransport) deadline(ctx context.Context, call *gateway.Call, now time.Time) time.Time {
	start := now
	if call != nil && !call.Start.IsZero() && call.Start.Before(now) {
		start = call.Start
	}
	d := start.Add(t.cfg.Deadline)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	return d
}

// backoff returns the full-jitter wait before retry n (after attempt n).
func (t *retryTransport) backoff(n int) time.Duration {
	ceil := t.cfg.BaseDelay << min(n-1, 30)
	if ceil <= 0 || ceil > t.cfg.MaxDelay {
		ceil = t.cfg.MaxDelay
	}
	return time.Duration(t.cfg.Rand() * float64(ceil))
}

// retryAfter returns the wait an upstream (a response's header) or an inner
// component (a *gateway.Error's RetryAfter) asked for. No ceiling applies
// but the deadline, which the caller checks: a header's wait is clamped just
// above Deadline, never to it, so that a Retry-After longer than the whole
// retrying passes the deadline however early it is read (the deadline is at
// most Deadline after a start no later than now) and the outcome is returned
// at once. Clamped to Deadline itself, a wait read at the call's start would
// end exactly at the deadline and the next attempt would be sent inside the
// window the upstream asked for.
func (t *retryTransport) retryAfter(resp *http.Response, err error, c Class, now time.Time) (time.Duration, bool) {
	if resp != nil {
		if c == RateLimited || c == Overloaded {
			return RetryAfter(resp.Header, now, min(t.cfg.Deadline, math.MaxInt64-1)+1)
		}
		return 0, false
	}
	if ge := asGatewayError(err); ge != nil && ge.RetryAfter > 0 {
		return ge.RetryAfter, true
	}
	return 0, false
}

// replayable returns req, or a shallow copy of it whose body can be sent
// again: GetBody is kept when set; otherwise the body is read into memory,
// up to limit bytes, and closed.
func replayable(req *http.Request, limit int64) (*http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody || req.GetBody != nil {
		return req, nil
	}
	b, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, gateway.ErrBodyTooLarge.WithMessage("breaker: request body too large to replay")
	}
	r := new(http.Request)
	*r = *req
	r.ContentLength = int64(len(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	r.Body, _ = r.GetBody()
	return r, nil
}

// rewind returns a shallow copy of req with a fresh body from GetBody.
func rewind(req *http.Request) (*http.Request, error) {
	r := new(http.Request)
	*r = *req
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = body
	}
	return r, nil
}

// Ambiguous reports whether a failed attempt may have been acted on
// upstream: an error other than a refused connection or one of the
// gateway's own refusals. A response is an answer, never ambiguous. Retry
// and the router send a call again after an ambiguous failure only when
// their Idempotent says the request may be repeated: one rule for retries
// and fallbacks.
func Ambiguous(resp *http.Response, err error) bool {
	if resp != nil || err == nil {
		return false
	}
	var ge *gateway.Error
	if errors.As(err, &ge) {
		// The gateway's refusals (open circuit, cooldown, full bulkhead,
		// rate limits) happen before anything is sent; a timeout or a
		// stream that broke may have reached the upstream.
		return ge.Status == http.StatusBadGateway || ge.Status == http.StatusGatewayTimeout
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	return !errors.Is(err, syscall.ECONNREFUSED)
}

// discard reads a little of a failed response's body, so its connection can
// be reused, and closes it.
func discard(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, 4<<10)
	body.Close()
}
