package config

import (
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/cache"
	"github.com/llmgate/gateway/limiter"
	"github.com/llmgate/gateway/router"
)

// Defaults of a gateway built from a File, where the libraries have none.
const (
	// DefaultListen is the address a File without listen names.
	DefaultListen = "127.0.0.1:8080"
	// DefaultShutdownTimeout is how long a shutdown waits for calls in
	// flight, and then for the usage records to drain, without
	// shutdown_timeout.
	DefaultShutdownTimeout = 10 * time.Second
)

// Options are Build's optional dependencies; the zero value works.
type Options struct {
	// Logger receives the gateway's own lines (shutdown, admin API, reload
	// outcomes) and the access log, one line per call; nil discards them.
	// NewLogger makes the one the logging section asks for.
	Logger *slog.Logger
	// UsageFile is where usage records go when the file has no
	// billing.sinks; default DefaultUsageFile in the working directory.
	UsageFile string
	// OnReload, when set, is told the outcome of each Reload (nil: applied)
	// after it is logged, on Reload's goroutine, once Reload has let go of
	// the gateway (OnReload may call Close or Reload; two reloads at once
	// may be told in either order). ReloadStats counts
	// them too (and so do the metrics, before OnReload is told).
	OnReload func(err error)
	// Registerer takes the gateway's metrics (the metrics section) instead
	// of a registry of their own; nil means their own, which Handler serves
	// at metrics.path. The global registry is never used unless it is
	// passed here. Handler serves a Registerer that is also a Gatherer (a
	// *prometheus.Registry is); Close unregisters what Build registered.
	Registerer prometheus.Registerer
	// TracerProvider makes the gateway's spans instead of one exporting to
	// the tracing section's endpoint, whose export keys are then unused
	// (capture_content still applies); tracing is on whenever it is set.
	// Its owner shuts it down; the gateway shuts down only one it made.
	TracerProvider trace.TracerProvider
	// Clock is the source of time of the targets' breakers, the router, the
	// health checks and readiness; nil means the system clock. It is for
	// tests: retries, hedges and timeouts keep the system clock, so that no
	// call waits on a fake one.
	Clock gateway.Clock
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// Gateway is a File built: the handler to serve and the stateful parts
// behind it (key store and cache, limiter, budget store, usage pipeline).
// Its methods are safe for concurrent use. Build returns it; Start opens the
// usage pipeline before serving, Stop drains it after the server has
// stopped, and Close releases everything (call it last, once).
type Gateway struct {
	cfg       *File // as built; Reload does not change it (the settings read from it need a restart)
	logger    *slog.Logger
	opts      Options
	chain     atomic.Pointer[http.RoundTripper] // the chain in force (swap)
	serve     http.Handler                      // the entry point over the chain in force, built once (newHandler)
	router    *router.Router
	providers []gateway.Provider
	provConfs []providerConf // providers[i]'s configuration, to keep it across a reload (newProviders)
	keys      *keySetup      // nil: no keys section, every caller is served
	billing   *billingParts
	limiter   *limiter.Limiter // nil without rate-limit rules
	health    *healthParts     // health.go: the checks, /healthz and /readyz

	// Kept across reloads (reload.go).
	budget     *breaker.Budget
	limitRedis *redis.Client          // the limiter's, for its shared rules
	breakers   map[string]keptBreaker // by target name
	hedges     map[string]keptHedge   // by target name
	respCache  gateway.Middleware
	respOpts   []gateway.Option
	admin      http.Handler
	reloadMu   sync.Mutex // held by Reload, Start, Stop and Close
	started    bool       // under reloadMu: Start succeeded
	closed     bool       // under reloadMu: Close has begun
	reloads    reloadCounts
	obs        *observe // the metrics and tracing sections built (observe.go)
}

// Build checks f and builds the gateway it describes (the chain build.go
// draws). Every mistake is reported at once, one line each, as
// "file:line: key: message"; on error nothing is left open. Build opens the
// key store (and migrates a PostgreSQL one) but creates no usage file or
// table and probes no target: Start does.
func Build(f *File, opts Options) (*Gateway, error) {
	g, err := build(f, opts)
	if err != nil {
		return nil, err
	}
	g.opts.OnReload = g.obs.onReload(opts.OnReload) // the metrics count each outcome first
	return g, nil
}

// Handler is the gateway's whole URL space: the OpenAI API (and Anthropic
// messages), GET /healthz and /readyz (before authentication), the
// metrics at metrics.path (default /metrics, GET and HEAD, with no key;
// not with metrics.disable), and with keys.admin_key the admin API under
// cache.AdminPrefix. Every error is in the OpenAI shape. Profiles are never
// served here (AdminHandler).
//
// It serves the chain in force: a Reload swaps it, and a call in flight
// finishes on the chain it started with.
func (g *Gateway) Handler() http.Handler { return g.serve }

// Start opens the usage pipeline and its sinks (replaying what a previous
// run left in the spill directory) and begins the targets' health probes.
// Call it before serving: a call metered before Start is recorded nowhere,
// and no target is probed before it. A second Start (after Stop too)
// returns ErrStarted, one after Close ErrClosed, and neither opens
// anything; a Start that failed may be tried again. Start, Stop, Close and
// Reload may be called concurrently: each waits for the others.
func (g *Gateway) Start(ctx context.Context) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	switch {
	case g.closed:
		return ErrClosed
	case g.started:
		return ErrStarted
	}
	if err := g.billing.start(ctx); err != nil {
		return err
	}
	g.started = true
	g.obs.watchPipeline(g.billing)
	g.health.start()
	return nil
}

// Stop drains the usage pipeline, within ctx: what it cannot deliver in
// time stays in the write-ahead log for the next Start. Call it after the
// server has stopped. A call still in flight then (one the server's
// shutdown gave up on and is ending) is waited for first, for at most half
// of ctx's time, so that its records are made before the pipeline closes;
// one still open after that is logged, and its records are refused. It
// logs what it drained. Then it flushes the spans queued to the tracing
// section's collector, within what is left of ctx. After Close, which
// released all of it, it does nothing.
func (g *Gateway) Stop(ctx context.Context) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	if g.closed {
		return nil
	}
	err := g.billing.stop(ctx, g.logger)
	return errors.Join(err, g.obs.stop(ctx))
}

// Close stops the health checks (and waits for their probes) and releases
// the limiter, the Redis clients, the usage pipeline, the key store, the
// providers' idle upstream connections, the span exporter (when Stop has
// not flushed it) and the metrics' place on Options.Registerer. Call it
// after the server has stopped (and after Stop, when Start was called). It
// waits for a Reload that is applying a file (whose OnReload may still be
// told after Close returns); a later Reload returns ErrClosed, and a later
// Close does nothing.
func (g *Gateway) Close() {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	if g.closed {
		return
	}
	g.closed = true
	g.health.close()
	g.obs.close()
	if g.limiter != nil {
		g.limiter.Close()
	}
	if g.limitRedis != nil {
		g.limitRedis.Close()
	}
	g.billing.Close()
	if g.keys != nil {
		g.keys.Close()
	}
	closeIdle(g.providers)
}

// Listen is the address the file names, or DefaultListen.
func (g *Gateway) Listen() string { return cmp.Or(g.cfg.Listen, DefaultListen) }

// ShutdownTimeout is shutdown_timeout, or DefaultShutdownTimeout.
func (g *Gateway) ShutdownTimeout() time.Duration {
	return cmp.Or(g.cfg.ShutdownTimeout, DefaultShutdownTimeout)
}

// MaxConns is max_conns: 0 for gateway.Server's default.
func (g *Gateway) MaxConns() int { return g.cfg.MaxConns }

// Models are the models the router serves (none: any its targets serve).
func (g *Gateway) Models() []string { return g.router.Models() }

// Targets are the router's targets' names.
func (g *Gateway) Targets() []string { return g.router.Targets() }

// Providers is how many providers the file built from configures.
func (g *Gateway) Providers() int { return len(g.cfg.Providers) }

// Limiter is the limiter of the limits section's rules; nil without rules.
func (g *Gateway) Limiter() *limiter.Limiter { return g.limiter }

// Keys tells how callers authenticate.
type Keys struct {
	// Required: the file has a keys section; every call needs a key.
	Required bool
	// DemoID and DemoSecret are the embedded default's demo key, made at
	// Build (keys.demo); empty without one. The secret is for a banner.
	DemoID, DemoSecret string
	// AdminAPI: keys.admin_key mounts the admin API at cache.AdminPrefix.
	AdminAPI bool
}

// Keys tells how callers authenticate.
func (g *Gateway) Keys() Keys {
	if g.keys == nil {
		return Keys{}
	}
	k := Keys{Required: true, AdminAPI: g.keys.adminAPI != nil, DemoSecret: g.keys.demoSecret}
	if k.DemoSecret != "" {
		k.DemoID = demoKeyID
	}
	return k
}

// KeyAdmin is the admin of the key store, the one the admin API uses, and
// whether the store is the file's own (keys.memory, which only an edit of
// the file changes for good); nil without a keys section.
func (g *Gateway) KeyAdmin() (admin *cache.KeyAdmin, inFile bool) {
	if g.keys == nil {
		return nil, false
	}
	return g.keys.admin, g.keys.memory
}

// WriteSummary writes, for a start-up banner, the rate limits in force and
// where the usage records go, in one write.
func (g *Gateway) WriteSummary(w io.Writer) {
	var b bytesWriter
	printLimits(&b, g.limiter, &g.cfg.Limits.Rate)
	printUsagePath(&b, g.billing)
	_, _ = w.Write(b)
}

type bytesWriter []byte

func (b *bytesWriter) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }
