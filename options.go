package gateway

import (
	"log/slog"
	"net/http"
	"time"
)

// Option configures NewHandler, NewTransport and NewClient.
type Option func(*config)

type config struct {
	limits        Limits
	clock         Clock
	logger        *slog.Logger
	writeTimeout  time.Duration
	maxEventBytes int
	respHeaders   []string
}

func newConfig(opts []Option) config {
	c := config{writeTimeout: DefaultStreamWriteTimeout, maxEventBytes: DefaultMaxEventBytes, respHeaders: copiedHeaders}
	for _, o := range opts {
		o(&c)
	}
	if err := c.limits.validate(); err != nil {
		panic(err) // a negative limit is a programmer error at construction
	}
	if c.writeTimeout < 0 {
		panic("gateway: negative stream write timeout")
	}
	c.limits = c.limits.withDefaults()
	c.clock = ClockOrSystem(c.clock)
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// DefaultStreamWriteTimeout bounds each write of a response to a server-mode
// caller, so a client that stops reading cannot hold a stream open.
const DefaultStreamWriteTimeout = 30 * time.Second

// WithLimits sets the request body limits (zero fields keep their defaults;
// a negative one panics).
func WithLimits(l Limits) Option { return func(c *config) { c.limits = l } }

// WithClock sets the clock used to time calls.
func WithClock(clk Clock) Option { return func(c *config) { c.clock = clk } }

// WithLogger sets where the entry point logs failures it cannot return to a
// caller (a stream cut after its status was sent). Logs never hold keys.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithStreamWriteTimeout sets the deadline of each write to a server-mode
// caller (DefaultStreamWriteTimeout; 0 disables it).
func WithStreamWriteTimeout(d time.Duration) Option {
	return func(c *config) { c.writeTimeout = d }
}

// WithResponseHeaders adds response headers that a server-mode Handler passes
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
