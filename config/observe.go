package config

import (
	"context"
	"net/http"
	"reflect"
	"sync"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/cache"
	"github.com/llmgate/gateway/metrics"
	"github.com/llmgate/gateway/provider"
	"github.com/llmgate/gateway/tracing"
)

// The cache label values of the caches the metrics watch.
const (
	keyCacheName      = "keys"
	responseCacheName = "responses"
)

// observe is the metrics and tracing sections built: what the chain, each
// target and each provider get from them. A nil field is off, and so is a
// nil *observe (every method then adds nothing). Build makes it once; a
// Reload keeps it (its sections need a restart, but for metrics.models) and
// has it watch the targets it builds.
type observe struct {
	metrics     *metrics.Metrics
	metricsPath string
	reg         *registered // what the metrics put on Options.Registerer
	tracer      *tracing.Tracer
	tp          shutdowner // the tracer's provider, when the gateway made it
	stopTP      sync.Once
	tpErr       error
	// breakers are the targets' breakers the metrics watch, by target;
	// changed by build and by Reload, under its lock.
	breakers map[string]*breaker.CircuitBreaker
}

// observe checks the metrics and tracing sections and, when each passes,
// builds what it asks for; the checker's later parts (providers, targets,
// the Meter) are wired to it.
func (c *checker) observe(f *File, opts Options) *observe {
	mp, tp := c.metricsSection(f), c.tracingSection(f.Tracing)
	o := &observe{metricsPath: mp.path, breakers: map[string]*breaker.CircuitBreaker{}}
	c.obs = o
	if len(c.errs) > 0 {
		return o // nothing opened for a file that will not run; its other mistakes are still found
	}
	o.metrics, o.reg = c.newMetrics(mp, opts.Registerer)
	o.tracer, o.tp = c.newTracer(tp, opts.TracerProvider)
	return o
}

// reobserve checks f's metrics and tracing sections for a Reload, wires
// the checker to the running o, and returns what applies them.
func (c *checker) reobserve(f *File, o *observe) observeReload {
	mp := c.metricsSection(f)
	c.tracingSection(f.Tracing)
	c.obs = o
	return observeReload{o: o, models: mp.cfg.Models}
}

// observeReload applies a reload's metrics: the models labelled, and the
// targets' breakers watched.
type observeReload struct {
	o      *observe
	models []string
}

// apply runs once the reload is applied (under Reload's lock).
func (r observeReload) apply(kept map[string]keptBreaker) {
	if r.o == nil || r.o.metrics == nil {
		return
	}
	_ = r.o.metrics.SetModels(r.models) // checked by reobserve
	r.o.watchBreakers(kept)
}

// watchBreakers has the metrics read the breakers of kept, and forget the
// targets no longer there (their series go with them).
func (o *observe) watchBreakers(kept map[string]keptBreaker) {
	for name := range o.breakers {
		if _, ok := kept[name]; !ok {
			o.metrics.WatchBreaker(name, nil)
			o.metrics.ForgetTarget(name) // its health and transition series too
			delete(o.breakers, name)
		}
	}
	for name, k := range kept {
		if k.cb != nil && o.breakers[name] != k.cb {
			o.metrics.WatchBreaker(name, k.cb)
			o.breakers[name] = k.cb
		}
	}
}

// watch has the metrics read the gateway's stateful parts at each scrape:
// the limiter, the Meter and its tenants' budgets, the key cache, the
// response cache (rc, nil when off) and the targets' breakers. The usage pipeline is watched by Start,
// which opens it.
func (o *observe) watch(g *Gateway, rc *cache.ResponseCache) {
	if o == nil || o.metrics == nil {
		return
	}
	m := o.metrics
	if g.limiter != nil {
		m.WatchLimiter(g.limiter)
	}
	if g.billing != nil && g.billing.meter != nil {
		m.WatchMeter(g.billing.meter)
		m.WatchBudgets(g.billing.meter) // the tenants of billing.budgets.tenants, as Reload updates them
	}
	if g.keys != nil && g.keys.lookup != nil {
		if s, ok := g.keys.lookup.(metrics.CacheStats); ok {
			m.WatchCache(keyCacheName, s)
		}
	}
	if rc != nil {
		m.WatchResponseCache(responseCacheName, rc)
	}
	o.watchBreakers(g.breakers)
}

// watchPipeline has the metrics read the usage pipeline Start opened.
func (o *observe) watchPipeline(b *billingParts) {
	if o == nil || o.metrics == nil || b == nil || b.open == nil {
		return
	}
	o.metrics.WatchPipeline(b.open.p)
}

// breaker is cfg, for target's breaker, with its transitions counted.
// The breaker keeps this callback across reloads with its state: it is
// bound to the target's name and to the metrics, which a reload keeps.
func (o *observe) breaker(target string, cfg breaker.Config) breaker.Config {
	if o != nil && o.metrics != nil {
		cfg.OnStateChange = o.metrics.BreakerStateChanged(target)
	}
	return cfg
}

// transport is a provider's Transport: nil (its own) without tracing, else
// its own tuned one under the tracer's, which sends the trace upstream.
func (o *observe) transport() http.RoundTripper {
	if o == nil || o.tracer == nil {
		return nil
	}
	return o.tracer.Transport(provider.NewTransport())
}

// targetMiddlewares are a target's middlewares with the attempt span
// innermost, when tracing.
func (o *observe) targetMiddlewares(mws []gateway.Middleware) []gateway.Middleware {
	if o == nil || o.tracer == nil {
		return mws
	}
	return append(mws[:len(mws):len(mws)], o.tracer.Attempt())
}

// callSpan is the chain's first middleware: the call span; nil (skipped by
// Chain) without tracing.
func (o *observe) callSpan() gateway.Middleware {
	if o == nil || o.tracer == nil {
		return nil
	}
	return o.tracer.Middleware()
}

// observer is the handler's option that tells the metrics of each call
// (a no-op option without metrics).
func (o *observe) observer() gateway.Option {
	if o == nil || o.metrics == nil {
		return gateway.WithObserver(nil)
	}
	return gateway.WithObserver(o.metrics.Observe)
}

// inbound is h behind the reading of the caller's trace (traceparent),
// outside the key guard, so that a call's span has its caller's parent
// whatever answers it; h itself without tracing.
func (o *observe) inbound(h http.Handler) http.Handler {
	if o == nil || o.tracer == nil {
		return h
	}
	return o.tracer.Handler(h)
}

// pages are the paths the metrics serve, for routes: none when off.
func (o *observe) pages() map[string]http.Handler {
	if o == nil || o.metrics == nil {
		return nil
	}
	return map[string]http.Handler{o.metricsPath: metricsPage(o.metrics, o.metricsPath)}
}

// onReload chains the metrics' count of reloads before next (Options.OnReload).
func (o *observe) onReload(next func(error)) func(error) {
	if o == nil || o.metrics == nil {
		return next
	}
	m := o.metrics
	return func(err error) {
		m.Reloaded(err)
		if next != nil {
			next(err)
		}
	}
}

func (o *observe) metricsOrNil() *metrics.Metrics {
	if o == nil {
		return nil
	}
	return o.metrics
}

// stop flushes the spans queued and stops their exporter, within ctx, once;
// later calls return the first's error.
func (o *observe) stop(ctx context.Context) error {
	if o == nil || o.tp == nil {
		return nil
	}
	o.stopTP.Do(func() { o.tpErr = o.tp.Shutdown(ctx) })
	return o.tpErr
}

// close stops the exporter if Stop has not, and takes the metrics off the
// embedder's registry.
func (o *observe) close() {
	if o == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultShutdownTimeout)
	defer cancel()
	_ = o.stop(ctx)
	if o.reg != nil {
		o.forget()
		o.reg.unregister()
	}
}

// forget has the metrics read nothing more of the gateway's parts, so that
// a Metrics an embedder still holds keeps none of them alive.
func (o *observe) forget() {
	m := o.metrics
	m.WatchLimiter(nil)
	m.WatchPipeline(nil)
	m.WatchMeter(nil)
	m.WatchBudgets(nil)
	m.WatchCache(keyCacheName, nil)
	m.WatchResponseCache(responseCacheName, nil)
	o.watchBreakers(nil)
}

// observeRestartKeys are the metrics and tracing keys whose change needs a
// restart (RestartKeys): all but metrics.models, which Reload applies.
func observeRestartKeys(a, b *File) []string {
	var keys []string
	ma, mb := a.Metrics, b.Metrics
	ma.Models, mb.Models = nil, nil
	if !reflect.DeepEqual(ma, mb) {
		keys = append(keys, "metrics")
	}
	if !reflect.DeepEqual(a.Tracing, b.Tracing) {
		keys = append(keys, "tracing")
	}
	return keys
}
