package gateway

import (
	"net/http"
	"time"

	"github.com/llmgate/gateway/internal/clock"
	"github.com/llmgate/gateway/internal/sse"
)

// Option configures NewHandler and NewClient.
type Option func(*config)

type config struct {
	limits        Limits
	clock         Clock
	writeTimeout  time.Duration
	maxEventBytes int
	respHeaders   []string
	observers     []func(*Call)
}

// defaultStreamWriteTimeout bounds each write of a response to a server-mode
// caller, so a client that stops reading cannot hold a stream open.
const defaultStreamWriteTimeout = 30 * time.Second

func newConfig(opts []Option) config {
	c := config{writeTimeout: defaultStreamWriteTimeout, maxEventBytes: sse.DefaultMaxLine, respHeaders: copiedHeaders}
	for _, o := range opts {
		o(&c)
	}
	if err := c.limits.Validate(); err != nil {
		panic(err) // a negative limit is a programmer error at construction
	}
	if c.writeTimeout < 0 {
		panic("gateway: negative stream write timeout")
	}
	c.limits = c.limits.withDefaults()
	c.clock = clock.Or(c.clock)
	return c
}

// WithLimits sets the request body limits (zero fields keep their defaults;
// a negative one panics: check configuration with Limits.Validate).
func WithLimits(l Limits) Option { return func(c *config) { c.limits = l } }

// WithClock sets the clock that stamps calls and times attempts.
func WithClock(clk Clock) Option { return func(c *config) { c.clock = clk } }

// WithObserver adds fn to the functions told about each call once it has
// ended: exactly once per request the entry point receives (a request that
// already carries a Call, passing through a nested entry point, is the outer
// entry point's), after its usage
// is recorded (its response body was read to its end or closed), or as soon
// as it failed without a response. A request refused before it was parsed
// (an unknown path, a body too large, malformed JSON) is observed too, as a
// Call with no model whose Result is the refusal. The Call's attempts, usage
// and Result are final then. fn runs in the
// goroutine that ended the call, after every observer added before it, and
// must not block: hand what it needs to a queue. In server mode a
// non-stream answer of up to 32 KiB reaches the caller, whole and flushed,
// before the observers (and the layers' end-of-call work) run, so they add
// nothing to its latency: a caller that has its answer cannot assume they
// have run. It is the seam for access
// logs, usage sinks, metrics and traces; it never sees a key.
func WithObserver(fn func(*Call)) Option {
	return func(c *config) {
		if fn != nil {
			c.observers = append(c.observers[:len(c.observers):len(c.observers)], fn)
		}
	}
}

// WithStreamWriteTimeout sets the deadline of each write to a server-mode
// caller (30 s by default; 0 disables it), so a client that stops reading
// cannot hold a stream open.
func WithStreamWriteTimeout(d time.Duration) Option {
	return func(c *config) { c.writeTimeout = d }
}

// WithResponseHeaders adds response headers that a server-mode handler passes
// from the provider to its caller, beyond Content-Type and Retry-After. A
// gateway fronting tenants keeps upstream rate-limit headers to itself; a
// test upstream (gatewaytest) passes them on.
func WithResponseHeaders(names ...string) Option {
	return func(c *config) {
		c.respHeaders = append(append([]string(nil), c.respHeaders...), names...)
		for i, n := range c.respHeaders {
			c.respHeaders[i] = http.CanonicalHeaderKey(n)
		}
	}
}
