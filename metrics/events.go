package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmgate/gateway/breaker"
)

// Reloaded counts a configuration reload: applied when err is nil,
// rejected otherwise (the running configuration kept). The error's text is
// not recorded: it is the log's.
func (m *Metrics) Reloaded(err error) {
	result := "applied"
	if err != nil {
		result = "rejected"
	}
	m.reloads.WithLabelValues(result).Inc()
}

// HealthChanged records an active health check's transition of target:
// llmgate_target_healthy is set and the transition counted. Call it on a
// change only; HealthProbed sets the gauge at a first check, which is no
// transition.
func (m *Metrics) HealthChanged(target string, healthy bool) {
	m.HealthProbed(target, healthy)
	to := "unhealthy"
	if healthy {
		to = "healthy"
	}
	m.healthChanges.WithLabelValues(m.targets.label(m.targets.index(target)), to).Inc()
}

// BreakerStateChanged returns a func for target's breaker.Config.OnStateChange
// that counts its transitions (llmgate_breaker_transitions_total, by the
// state entered). Its state and cooldowns are read by WatchBreaker.
func (m *Metrics) BreakerStateChanged(target string) func(from, to breaker.State) {
	t := m.targets.label(m.targets.index(target))
	var byState [len(breakerStates)]func()
	for i, s := range breakerStates {
		c := m.breakerChanges.WithLabelValues(t, s.String())
		byState[i] = c.Inc
	}
	return func(_, to breaker.State) {
		if int(to) < len(byState) {
			byState[to]()
		}
	}
}

// HealthProbed sets llmgate_target_healthy for target, counting no
// transition: for a target whose active checks start (it is healthy until
// they say otherwise), so that the gauge exists before its first change.
func (m *Metrics) HealthProbed(target string, healthy bool) {
	v := 0.0
	if healthy {
		v = 1
	}
	m.healthy.WithLabelValues(m.targets.label(m.targets.index(target))).Set(v)
}

// ForgetTarget removes the health and transition series of a target no
// longer configured (a reload removed it), so that a dashboard does not
// show it, unhealthy or open, forever. A target folded into "other" (past
// Config.MaxTargets) is left: "other" stands for others too. Its breaker's
// scrape-time series go with WatchBreaker(target, nil).
func (m *Metrics) ForgetTarget(target string) {
	t := m.targets.label(m.targets.index(target))
	if t == otherLabel || t == "" {
		return
	}
	m.healthy.DeleteLabelValues(t)
	m.healthChanges.DeletePartialMatch(prometheus.Labels{"target": t})
	m.breakerChanges.DeletePartialMatch(prometheus.Labels{"target": t})
}
