package metrics

import (
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmgate/gateway/billing"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/cache"
	"github.com/llmgate/gateway/limiter"
)

// The sources a scrape reads, as small interfaces the package types
// satisfy, so a test or a wrapper can stand in.
type (
	// LimiterStats is what WatchLimiter reads: *limiter.Limiter.
	LimiterStats interface {
		Stats() limiter.Stats
		RuleStats() []limiter.RuleStats
	}
	// PipelineStats is what WatchPipeline reads: *billing.Pipeline.
	PipelineStats interface{ Stats() billing.Stats }
	// MeterStats is what WatchMeter reads: *billing.Meter.
	MeterStats interface{ Stats() billing.MeterStats }
	// CacheStats is what WatchCache reads: a *cache.Cache of any types.
	CacheStats interface{ Stats() cache.Stats }
	// ResponseCacheStats is what WatchResponseCache reads: *cache.ResponseCache.
	ResponseCacheStats interface{ Stats() cache.ResponseStats }
	// BreakerStats is what WatchBreaker reads: *breaker.CircuitBreaker.
	BreakerStats interface{ Stats() breaker.Stats }
)

// watched is the collector of everything read from a component's Stats at
// scrape time. Its sources are replaced or forgotten by the Watch methods
// (a reload that rebuilds a component watches the new one); each map is
// bounded by maxWatched.
type watched struct {
	mu        sync.Mutex
	lim       LimiterStats
	pipe      PipelineStats
	meter     MeterStats
	budgets   BudgetStats
	caches    map[string]CacheStats
	respCache map[string]ResponseCacheStats
	breakers  map[string]BreakerStats

	budgetErrors atomic.Uint64 // failed reads of the budgets, kept across WatchBudgets
}

func newWatched() *watched {
	return &watched{caches: map[string]CacheStats{}, respCache: map[string]ResponseCacheStats{}, breakers: map[string]BreakerStats{}}
}

// WatchLimiter reads l's counters at each scrape, replacing the limiter
// watched before; nil forgets it.
func (m *Metrics) WatchLimiter(l LimiterStats) {
	m.watched.mu.Lock()
	m.watched.lim = l
	m.watched.mu.Unlock()
}

// WatchPipeline reads p's counters at each scrape, replacing the pipeline
// watched before; nil forgets it.
func (m *Metrics) WatchPipeline(p PipelineStats) {
	m.watched.mu.Lock()
	m.watched.pipe = p
	m.watched.mu.Unlock()
}

// WatchMeter reads mt's counters at each scrape, replacing the meter
// watched before; nil forgets it.
func (m *Metrics) WatchMeter(mt MeterStats) {
	m.watched.mu.Lock()
	m.watched.meter = mt
	m.watched.mu.Unlock()
}

// WatchCache reads the metadata cache c's counters at each scrape under
// the label cache=name, replacing one watched under that name; nil
// forgets it. It reports false, watching nothing, past 256 names.
func (m *Metrics) WatchCache(name string, c CacheStats) bool {
	return watchIn(&m.watched.mu, m.watched.caches, name, c)
}

// WatchResponseCache reads rc's size at each scrape under cache=name, as
// WatchCache does; its hits and misses are counted per call by Observe
// (llmgate_response_cache_total).
func (m *Metrics) WatchResponseCache(name string, rc ResponseCacheStats) bool {
	return watchIn(&m.watched.mu, m.watched.respCache, name, rc)
}

// WatchBreaker reads target's breaker at each scrape (its state, cooldown
// and cooldown count), replacing the breaker watched for target; nil
// forgets it. It reports false, watching nothing, past 256 targets. Give
// BreakerStateChanged(target) to its Config.OnStateChange to count its
// transitions.
//
// A breaker that replaces another for the same target (a reload that
// changed the target's breaker settings) goes on from the cooldowns the one
// before counted, so llmgate_breaker_cooldowns_total never goes down.
func (m *Metrics) WatchBreaker(target string, cb BreakerStats) bool {
	w := m.watched
	if cb != nil {
		w.mu.Lock()
		old, ok := w.breakers[target]
		w.mu.Unlock()
		inner := old
		if o, carried := old.(carriedBreaker); carried {
			inner = o.BreakerStats
		}
		switch {
		case ok && inner == cb:
			return true // watched already
		case ok:
			// Read outside the lock: Stats may take the breaker's. old's
			// count includes what it carried.
			cb = carriedBreaker{BreakerStats: cb, base: old.Stats().Cooldowns}
		}
	}
	return watchIn(&w.mu, w.breakers, target, cb)
}

// carriedBreaker is a breaker watched in place of another for its target:
// its cooldowns count on from base, the count of those before it.
type carriedBreaker struct {
	BreakerStats
	base uint64
}

func (c carriedBreaker) Stats() breaker.Stats {
	s := c.BreakerStats.Stats()
	s.Cooldowns += c.base
	return s
}

func watchIn[V comparable](mu *sync.Mutex, to map[string]V, name string, v V) bool {
	mu.Lock()
	defer mu.Unlock()
	var zero V
	if v == zero {
		delete(to, name)
		return true
	}
	if _, ok := to[name]; !ok && len(to) >= maxWatched {
		return false
	}
	to[name] = v
	return true
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	d := prometheus.NewDesc(name, help, labels, nil)
	watchedDescs = append(watchedDescs, d)
	return d
}

// watchedDescs are every desc of the scrape-time metrics, made by desc at
// package init: Describe sends them, so that the collector is a checked one,
// which a registry can unregister.
var watchedDescs []*prometheus.Desc

// Describe sends every scrape-time metric's desc, whichever sources are
// watched now: the collector is checked (a registry refuses a clash and
// can unregister it), and a source watched later adds no new desc.
func (w *watched) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range watchedDescs {
		ch <- d
	}
}

// Collect reads every watched source once.
func (w *watched) Collect(ch chan<- prometheus.Metric) {
	w.mu.Lock()
	lim, pipe, meter, budgets := w.lim, w.pipe, w.meter, w.budgets
	caches, resp, breakers := maps.Clone(w.caches), maps.Clone(w.respCache), maps.Clone(w.breakers)
	w.mu.Unlock()
	// Sources are read outside the lock: a Stats call may lock its own.
	if lim != nil {
		collectLimiter(ch, lim)
	}
	if pipe != nil {
		collectPipeline(ch, pipe.Stats())
	}
	if meter != nil {
		collectMeter(ch, meter.Stats())
	}
	if budgets != nil {
		w.collectBudgets(ch, budgets)
	}
	for _, name := range slices.Sorted(maps.Keys(caches)) {
		collectCache(ch, name, caches[name].Stats())
	}
	for _, name := range slices.Sorted(maps.Keys(resp)) {
		collectResponseCache(ch, name, resp[name].Stats())
	}
	for _, t := range slices.Sorted(maps.Keys(breakers)) {
		collectBreaker(ch, t, breakers[t].Stats())
	}
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}
