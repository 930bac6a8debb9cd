package router

import (
	"github.com/llmgate/gateway/breaker"
)

// TargetStatus is one target of a Router as Status sees it at one instant.
type TargetStatus struct {
	Name string
	Tier int
	// Breaker is the state of the target's circuit breaker. An open breaker
	// whose delay has passed reads HalfOpen, as it would for the next call.
	Breaker breaker.State
	// Healthy reports whether the target passes its health check
	// (Target.Healthy); true for a target without one.
	Healthy bool
	// CanServe reports whether the target can take calls: its breaker is not
	// open and it passes its health check. A cooldown after a 429 does not
	// count against it: it is seconds long and the upstream is up. This is
	// the one rule Ready applies.
	CanServe bool
}

// canServe is the rule of TargetStatus.CanServe and Ready.
func canServe(state breaker.State, healthy bool) bool { return state != breaker.Open && healthy }

// Status returns the current targets in order, each with its breaker state
// and health. It reads each breaker once (which may turn an open one whose
// delay has passed half-open, as a call would) and allocates the slice it
// returns.
func (r *Router) Status() []TargetStatus {
	s := r.snap.Load()
	out := make([]TargetStatus, len(s.targets))
	for i, t := range s.targets {
		state, healthy := t.cb.State(), t.passes()
		out[i] = TargetStatus{Name: t.name, Tier: t.tier, Breaker: state, Healthy: healthy,
			CanServe: canServe(state, healthy)}
	}
	return out
}

// Ready reports whether some target serving model can take calls now: its
// breaker is not open and it passes its health check (TargetStatus.CanServe).
// It is false for a model no target serves. Readiness (health.Readiness)
// asks it for every configured model.
//
// A call may still be served when Ready is false, since the router ignores
// health checks when all of a model's targets fail them (see Router); Ready
// reports the fleet's state, not a call's fate.
func (r *Router) Ready(model string) bool {
	g := r.snap.Load().group(model)
	if g == nil {
		return false
	}
	for i := range g.members {
		t := g.members[i].t
		if canServe(t.cb.State(), t.passes()) {
			return true
		}
	}
	return false
}
