package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmgate/gateway/billing"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/cache"
)

// The metrics read from Stats at scrape time.
var (
	limAdmitted    = desc("llmgate_limiter_admitted_total", "Calls the limiter admitted, by each rule that applied to them (a call under two rules counts in both).", "rule")
	limRefused     = desc("llmgate_limiter_refused_total", "Calls the limiter refused, by the rule that refused them.", "rule")
	limWaited      = desc("llmgate_limiter_waited_total", "Calls that waited for capacity before the limiter decided.")
	limRedisErrors = desc("llmgate_limiter_redis_errors_total", "Redis commands of shared limits that failed or timed out.")
	limFailOpen    = desc("llmgate_limiter_fail_open_total", "Shared-limit decisions admitted because Redis could not be reached.")
	limFailClosed  = desc("llmgate_limiter_fail_closed_total", "Shared-limit decisions refused because Redis could not be reached.")
	limKeysFull    = desc("llmgate_limiter_keys_full_total", "Calls refused because a rule tracked its maximum of keys.")

	pipeDepth     = desc("llmgate_usage_pipeline_depth", "Usage records accepted and not yet in the write-ahead log.")
	pipeLogBytes  = desc("llmgate_usage_pipeline_log_bytes", "Size of the usage pipeline's write-ahead log on disk.")
	pipeEnqueued  = desc("llmgate_usage_pipeline_enqueued_total", "Usage records accepted by the pipeline.")
	pipeBlocked   = desc("llmgate_usage_pipeline_blocked_total", "Enqueues that found the buffer full and waited.")
	pipeSpills    = desc("llmgate_usage_pipeline_spills_total", "Usage records appended to the log by Enqueue itself after the buffer stayed full.")
	pipeDrops     = desc("llmgate_usage_pipeline_drops_total", "Usage records lost (counted, never silent).")
	pipeRejected  = desc("llmgate_usage_pipeline_rejected_total", "Usage records refused after Close.")
	pipeLogErrors = desc("llmgate_usage_pipeline_log_errors_total", "Failed appends and timed fsyncs of the write-ahead log (each retried).")
	sinkWritten   = desc("llmgate_usage_sink_written_total", "Usage records a sink acknowledged.", "sink")
	sinkFlushes   = desc("llmgate_usage_sink_flushes_total", "Batches a sink wrote successfully.", "sink")
	sinkErrors    = desc("llmgate_usage_sink_errors_total", "Failed sink writes (each retried).", "sink")
	sinkDead      = desc("llmgate_usage_sink_dead_lettered_total", "Usage records put in a sink's dead-letter file.", "sink")
	sinkDown      = desc("llmgate_usage_sink_failing", "1 when the sink's last write failed.", "sink")

	meterRecords      = desc("llmgate_billing_records_total", "Usage records the meter handed to its recorder.")
	meterEnqueueErrs  = desc("llmgate_billing_enqueue_errors_total", "Usage records the recorder refused.")
	meterUnpriced     = desc("llmgate_billing_unpriced_records_total", "Usage records whose model had no price.")
	meterRefused      = desc("llmgate_budget_refusals_total", "Calls refused by a budget.")
	meterSettleErrors = desc("llmgate_budget_settle_errors_total", "Failed budget settlements (retried).")
	meterPending      = desc("llmgate_budget_settles_pending", "Failed budget settlements waiting for a retry.")
	meterOpen         = desc("llmgate_billing_calls_open", "Calls the meter has taken in whose usage records are not made yet: calls in flight (what a shutdown waits for).")
	meterLost         = desc("llmgate_budget_settles_lost_total", "Failed settlements dropped with the pending queue full: spend missing from the budget.")

	cacheHits     = desc("llmgate_cache_hits_total", "Lookups answered a fresh value.", "cache")
	cacheRejected = desc("llmgate_cache_bloom_rejections_total", "Keys the Bloom filter answered not found, with no lookup.", "cache")
	cacheLoads    = desc("llmgate_cache_loads_total", "Loads started: misses and refreshes.", "cache")
	cacheStale    = desc("llmgate_cache_stale_hits_total", "Stale values served while a refresh ran.", "cache")
	cacheNegHits  = desc("llmgate_cache_negative_hits_total", "Keys answered not found from the negative cache.", "cache")
	cacheEntries  = desc("llmgate_cache_entries", "Values held now.", "cache")
	cacheInFlight = desc("llmgate_cache_loads_in_flight", "Loads running now.", "cache")
	respEntries   = desc("llmgate_response_cache_entries", "Answers the response cache keeps now.", "cache")
	respBytes     = desc("llmgate_response_cache_bytes", "Bytes of the answers the response cache keeps.", "cache")
	respFlights   = desc("llmgate_response_cache_flights", "Upstream calls in flight that identical calls may join.", "cache")

	brState     = desc("llmgate_breaker_state", "1 for the state the target's circuit breaker is in (closed, open, half-open), 0 for the others.", "target", "state")
	brCooling   = desc("llmgate_breaker_cooldown_seconds", "Left of the target's cooldown (a 429's or 503's Retry-After), 0 if none.", "target")
	brCooldowns = desc("llmgate_breaker_cooldowns_total", "Cooldowns started or lengthened at the target.", "target")
)

func collectLimiter(ch chan<- prometheus.Metric, l LimiterStats) {
	s := l.Stats()
	counter(ch, limWaited, float64(s.Waited))
	counter(ch, limRedisErrors, float64(s.RedisErrors))
	counter(ch, limFailOpen, float64(s.FailOpen))
	counter(ch, limFailClosed, float64(s.FailClosed))
	counter(ch, limKeysFull, float64(s.KeysFull))
	rules := l.RuleStats()
	for i, r := range rules {
		if i == maxWatched {
			break // rules are configured; a bound all the same
		}
		counter(ch, limAdmitted, float64(r.Admitted), r.Name)
		counter(ch, limRefused, float64(r.Refused), r.Name)
	}
}

func collectPipeline(ch chan<- prometheus.Metric, s billing.Stats) {
	// The counters are read one by one, so under load the difference may
	// be briefly off; it is never shown below zero.
	depth := int64(s.Enqueued) - int64(s.Spilled) - int64(s.Logged)
	gauge(ch, pipeDepth, float64(max(depth, 0)))
	gauge(ch, pipeLogBytes, float64(s.LogBytes))
	counter(ch, pipeEnqueued, float64(s.Enqueued))
	counter(ch, pipeBlocked, float64(s.Blocked))
	counter(ch, pipeSpills, float64(s.Spilled))
	counter(ch, pipeDrops, float64(s.Dropped))
	counter(ch, pipeRejected, float64(s.Rejected))
	counter(ch, pipeLogErrors, float64(s.LogErrors))
	n := 0
	for name, ss := range s.Sinks {
		if n++; n > maxWatched {
			break
		}
		counter(ch, sinkWritten, float64(ss.Written), name)
		counter(ch, sinkFlushes, float64(ss.Batches), name)
		counter(ch, sinkErrors, float64(ss.Retries), name)
		counter(ch, sinkDead, float64(ss.DeadLettered), name)
		failing := 0.0
		if ss.LastError != "" {
			failing = 1
		}
		gauge(ch, sinkDown, failing, name)
	}
}

func collectMeter(ch chan<- prometheus.Metric, s billing.MeterStats) {
	counter(ch, meterRecords, float64(s.Records))
	counter(ch, meterEnqueueErrs, float64(s.EnqueueErrors))
	counter(ch, meterUnpriced, float64(s.Unpriced))
	counter(ch, meterRefused, float64(s.Refused))
	counter(ch, meterSettleErrors, float64(s.SettleErrors))
	gauge(ch, meterPending, float64(s.SettlesPending))
	gauge(ch, meterOpen, float64(s.Open))
	counter(ch, meterLost, float64(s.SettlesLost))
}

func collectCache(ch chan<- prometheus.Metric, name string, s cache.Stats) {
	counter(ch, cacheHits, float64(s.Hits), name)
	counter(ch, cacheRejected, float64(s.Rejected), name)
	counter(ch, cacheLoads, float64(s.Loads), name)
	counter(ch, cacheStale, float64(s.StaleHits), name)
	counter(ch, cacheNegHits, float64(s.NegHits), name)
	gauge(ch, cacheEntries, float64(s.Entries), name)
	gauge(ch, cacheInFlight, float64(s.LoadsInFlight), name)
}

func collectResponseCache(ch chan<- prometheus.Metric, name string, s cache.ResponseStats) {
	gauge(ch, respEntries, float64(s.Answers), name)
	gauge(ch, respBytes, float64(s.Bytes), name)
	gauge(ch, respFlights, float64(s.Flights), name)
}

var breakerStates = [...]breaker.State{breaker.Closed, breaker.Open, breaker.HalfOpen}

func collectBreaker(ch chan<- prometheus.Metric, target string, s breaker.Stats) {
	for _, st := range breakerStates {
		v := 0.0
		if s.State == st {
			v = 1
		}
		gauge(ch, brState, v, target, st.String())
	}
	gauge(ch, brCooling, s.CoolingFor.Seconds(), target)
	counter(ch, brCooldowns, float64(s.Cooldowns), target)
}
