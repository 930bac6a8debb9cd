package config

import "github.com/llmgate/gateway/breaker"

// keptHedge is what a target's Hedge has learned of its latency, and the
// hedge settings it learned it under.
type keptHedge struct {
	conf hedgeConf
	lat  *breaker.HedgeLatency
}

// reuse is k's latency when it was learned under conf; a new, empty one
// otherwise.
func (k keptHedge) reuse(conf hedgeConf) *breaker.HedgeLatency {
	if k.lat == nil || k.conf != conf {
		return &breaker.HedgeLatency{}
	}
	return k.lat
}
