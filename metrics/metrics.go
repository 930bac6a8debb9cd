package metrics

import (
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/clock"
)

// The GenAI semantic conventions' label names, exposed the Prometheus way.
const (
	lOp        = "gen_ai_operation_name"
	lProvider  = "gen_ai_provider_name"
	lReqModel  = "gen_ai_request_model"
	lRespModel = "gen_ai_response_model"
	lErrorType = "error_type"
	lTokenType = "gen_ai_token_type"
)

// Metrics records what the gateway does as Prometheus metrics: the GenAI
// semantic conventions' client measures and the gateway's own under the
// llmgate_ prefix (see the package documentation for the list).
//
// Every label is bounded: models are labelled only when configured
// (Config.Models), tenants only when asked (Config.Tenants), targets and
// error codes up to fixed bounds; no key id, call id or caller-invented
// string is ever a label value. A Metrics is safe for concurrent use and
// starts no goroutine; it has nothing to close.
type Metrics struct {
	cfg      Config
	clock    gateway.Clock
	gatherer prometheus.Gatherer // nil when the Registerer is not one

	models  atomic.Pointer[modelNames]
	tenants map[string]int // nil without a tenant label
	tenantL []string
	targets *internTable
	errs    *internTable
	series  seriesCache // series not keyed by a model

	duration, firstChunk, tokens           *prometheus.HistogramVec
	calls, attempts, retries, fallbacks    *prometheus.CounterVec
	hedges, respCache, cost, unpricedCost  *prometheus.CounterVec
	reloads, healthChanges, breakerChanges *prometheus.CounterVec
	healthy                                *prometheus.GaugeVec
	respCacheBy                            [len(cacheResults)]prometheus.Counter
	watched                                *watched
}

// New returns a Metrics with its collectors registered on cfg.Registerer
// (or a registry of its own), or cfg's errors (Config.Validate), or the
// Registerer's (a collector of the same name registered already); when it
// fails it leaves none of its collectors registered.
func New(cfg Config) (*Metrics, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	reg := cfg.Registerer
	if reg == nil {
		r := prometheus.NewRegistry()
		reg = r
	}
	m := &Metrics{cfg: cfg, clock: clock.Or(cfg.Clock), targets: newInternTable(cfg.MaxTargets), errs: newInternTable(maxErrorTypes)}
	m.gatherer, _ = reg.(prometheus.Gatherer)
	m.models.Store(newModelNames(cfg.Models))
	if len(cfg.Tenants) > 0 {
		m.tenants = make(map[string]int, len(cfg.Tenants))
		m.tenantL = []string{"", otherLabel}
		for _, t := range cfg.Tenants {
			m.tenants[t] = len(m.tenantL)
			m.tenantL = append(m.tenantL, t)
		}
	}
	m.makeVecs()
	for i, r := range cacheResults {
		m.respCacheBy[i] = m.respCache.WithLabelValues(r)
	}
	m.watched = newWatched()
	cs := m.collectors()
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			// Leave the Registerer as it was: a New that fails may be
			// tried again on it.
			for _, r := range cs[:i] {
				reg.Unregister(r)
			}
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) makeVecs() {
	gen := []string{lOp, lProvider, lReqModel, lRespModel}
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "gen_ai_client_operation_duration_seconds", Help: "GenAI operation duration: from the call's start at the gateway to its end (gen_ai.client.operation.duration).",
		Buckets: m.cfg.DurationBuckets,
	}, append(gen, lErrorType))
	m.firstChunk = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "gen_ai_client_operation_time_to_first_chunk_seconds", Help: "Time from the call's start to the first content chunk of a stream (gen_ai.client.operation.time_to_first_chunk).",
		Buckets: m.cfg.FirstChunkBuckets,
	}, gen)
	m.tokens = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "gen_ai_client_token_usage", Help: "Input and output tokens a call used, as the provider reported them or estimated (gen_ai.client.token.usage).",
		Buckets: m.cfg.TokenBuckets,
	}, append(gen, lTokenType))
	callLabels := []string{"outcome", "status"}
	costLabels := []string{"target", "model"}
	if m.tenants != nil {
		callLabels = append(callLabels, "tenant")
		costLabels = append(costLabels, "tenant")
	}
	ctr := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	m.calls = ctr("llmgate_calls_total", "Calls the entry point ended, by outcome (ok, error, refused, cache_hit, canceled) and the status the caller got.", callLabels...)
	m.attempts = ctr("llmgate_attempts_total", "Attempts at a target, by outcome (ok, or the error type).", "target", "outcome")
	m.retries = ctr("llmgate_retries_total", "Attempts that tried the same target again after a failed one.", "target")
	m.fallbacks = ctr("llmgate_fallbacks_total", "Attempts that moved a call to another target, by the target moved to.", "target")
	m.hedges = ctr("llmgate_hedges_total", "Attempts sent while an earlier attempt of the call was still waiting for its answer.", "target")
	m.respCache = ctr("llmgate_response_cache_total", "Calls the response cache saw, by result (hit, shared, miss).", "result")
	m.cost = ctr("llmgate_cost_usd_total", "Cost of the usage records, in US dollars.", costLabels...)
	m.unpricedCost = ctr("llmgate_cost_unknown_records_total", "Usage records whose model had no price (cost unknown, not zero).", "target", "model")
	m.reloads = ctr("llmgate_config_reloads_total", "Configuration reloads, by result (applied, rejected).", "result")
	m.healthChanges = ctr("llmgate_health_transitions_total", "Active health-check transitions of a target, by the state entered (healthy, unhealthy).", "target", "to")
	m.breakerChanges = ctr("llmgate_breaker_transitions_total", "Circuit breaker state changes of a target, by the state entered.", "target", "to")
	m.healthy = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "llmgate_target_healthy", Help: "1 when the target's last health check passed, 0 when it failed."}, []string{"target"})
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.duration, m.firstChunk, m.tokens, m.calls, m.attempts, m.retries, m.fallbacks,
		m.hedges, m.respCache, m.cost, m.unpricedCost, m.reloads, m.healthChanges, m.breakerChanges, m.healthy, m.watched}
}

// Handler serves the metrics in the Prometheus exposition formats: the
// Metrics' own registry, or Config.Registerer when it is also a Gatherer
// (a *prometheus.Registry is). With any other Registerer it answers 500:
// serve that registry with promhttp yourself.
func (m *Metrics) Handler() http.Handler {
	if m.gatherer == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			gateway.WriteError(w, gateway.ErrInternal.WithMessage("metrics: the Registerer is not a Gatherer; serve it with promhttp"))
		})
	}
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// SetModels replaces the models labelled by name (Config.Models) for the
// calls observed from now on, as a reload does. Series already recorded
// stay. It returns the error Config.Validate would, and changes nothing then.
func (m *Metrics) SetModels(models []string) error {
	if err := (Config{Models: models}).Validate(); err != nil {
		return err
	}
	m.models.Store(newModelNames(models))
	return nil
}
