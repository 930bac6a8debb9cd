package metrics

import (
	"errors"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/genai"
)

// opNames are the gen_ai_operation_name values, by gateway.Op, as the
// call's spans name them (internal/genai), looked up without a switch.
var opNames = func() (names [gateway.OpResponses + 1]string) {
	for op := range names {
		names[op] = genai.OperationName(gateway.Op(op))
	}
	return names
}()

// The outcomes of llmgate_calls_total.
const (
	outOK = iota
	outError
	outRefused
	outCacheHit
	outCanceled
)

var outcomeNames = [...]string{"ok", "error", "refused", "cache_hit", "canceled"}

// cacheResults are the values of Call.CacheResult that are counted.
var cacheResults = [...]string{"hit", "shared", "miss"}

// noProvider is gen_ai_provider_name for a call that reached no provider:
// refused by the gateway, or answered from the response cache.
const noProvider = "none"

// maxAttemptsOnStack is how many attempts Observe reads without an
// allocation; a call with more is observed all the same.
const maxAttemptsOnStack = 8

// Observe records one ended call. It is a gateway.WithObserver func:
//
//	gateway.NewHandler(rt, gateway.WithObserver(m.Observe))
//
// It reads only what the Call's owners recorded (attempts, usage, result,
// cache result) and allocates nothing once the call's series have been
// seen. Retries, fallbacks and hedges are the attempts' Kind, as the Call
// decided it.
func (m *Metrics) Observe(c *gateway.Call) {
	if c == nil {
		return
	}
	end := m.clock.Now()
	var buf [maxAttemptsOnStack]gateway.Attempt
	atts := c.AppendAttempts(buf[:0])
	status, err := c.Result()
	target, served := c.Served()
	cached := c.CacheResult()
	names := m.models.Load()

	errType := m.errorType(status, err)
	m.countCall(c, status, err, len(atts), cached)
	m.countAttempts(atts)

	if c.Op == gateway.OpModels || c.Op == gateway.OpUnknown || int(c.Op) >= len(opNames) {
		return
	}
	op := int(c.Op)
	provider := idxEmpty
	if target != "" {
		provider = m.targets.index(target)
	} else if len(atts) > 0 {
		provider = m.targets.index(atts[len(atts)-1].Target)
	}
	req, resp := names.index(c.Model), names.index(served)
	labels := func(extra string) []string {
		return []string{opNames[op], m.providerLabel(provider), names.labels[req], names.labels[resp], extra}
	}
	d := max(end.Sub(c.Start), 0)
	names.series.get(key(kDuration, op, provider, req, errType, resp), func() series {
		return series{obs: m.duration.WithLabelValues(labels(m.errs.label(errType))...)}
	}).obs.Observe(d.Seconds())
	if target == "" {
		return
	}
	if a := servedAttempt(atts, target, served); a != nil && c.Stream {
		ttfc := max(a.Start.Sub(c.Start)+a.TTFT, 0)
		names.series.get(key(kFirstChunk, op, provider, req, 0, resp), func() series {
			return series{obs: m.firstChunk.WithLabelValues(labels("")[:4]...)}
		}).obs.Observe(ttfc.Seconds())
	}
	if u, ok := c.Usage(); ok {
		names.series.get(key(kTokens, op, provider, req, 0, resp), func() series {
			return series{obs: m.tokens.WithLabelValues(labels("input")...)}
		}).obs.Observe(float64(u.PromptTokens))
		names.series.get(key(kTokens, op, provider, req, 1, resp), func() series {
			return series{obs: m.tokens.WithLabelValues(labels("output")...)}
		}).obs.Observe(float64(u.CompletionTokens))
	}
}

func (m *Metrics) providerLabel(i int) string {
	if i == idxEmpty {
		return noProvider
	}
	return m.targets.label(i)
}

// errorType is the error_type index of a call: the code of the gateway
// error it ended with, else the status of an upstream's error response,
// else none (idxEmpty).
func (m *Metrics) errorType(status int, err error) int {
	if err != nil {
		ge, ok := err.(*gateway.Error)
		if !ok && !errors.As(err, &ge) {
			return m.errs.index("error")
		}
		return m.errs.index(ge.Code)
	}
	if status >= 400 {
		return m.errs.index(statusLabel(status))
	}
	return idxEmpty
}

func (m *Metrics) countCall(c *gateway.Call, status int, err error, attempts int, cached string) {
	out := outError
	switch {
	case status == 499:
		out = outCanceled
	case (cached == "hit" || cached == "shared") && err == nil && status/100 == 2:
		out = outCacheHit
	case err == nil && status/100 == 2:
		out = outOK
	case attempts == 0 && err != nil:
		out = outRefused
	}
	st := status
	if st < 0 || st >= len(statusText) {
		st = len(statusText) // "other"
	}
	tenant := idxEmpty
	if m.tenants != nil {
		tenant = fixedIndex(m.tenants, c.Caller.Tenant)
	}
	m.series.get(key(kCalls, st, out, tenant, 0, 0), func() series {
		l := []string{outcomeNames[out], statusLabel(status)}
		if m.tenants != nil {
			l = append(l, m.tenantL[tenant])
		}
		return series{ctr: m.calls.WithLabelValues(l...)}
	}).ctr.Inc()
	for i, r := range cacheResults {
		if cached == r {
			m.respCacheBy[i].Inc()
		}
	}
}

// countAttempts counts each attempt by target and outcome, and each one
// after the first by its Kind: a hedge, a retry or a fallback.
func (m *Metrics) countAttempts(atts []gateway.Attempt) {
	for i := range atts {
		a := &atts[i]
		t, e := m.targets.index(a.Target), m.attemptError(a)
		m.series.get(key(kAttempts, t, e, 0, 0, 0), func() series {
			out := m.errs.label(e)
			if e == idxEmpty {
				out = "ok"
			}
			return series{ctr: m.attempts.WithLabelValues(m.targets.label(t), out)}
		}).ctr.Inc()
	}
	for i := range atts {
		a := &atts[i]
		var kind uint64
		switch a.Kind {
		case gateway.AttemptHedge:
			kind = kHedges
		case gateway.AttemptRetry:
			kind = kRetries
		case gateway.AttemptFallback:
			kind = kFallbacks
		default:
			continue // a first attempt
		}
		t := m.targets.index(a.Target)
		m.series.get(key(kind, t, 0, 0, 0, 0), func() series {
			v := m.fallbacks
			switch kind {
			case kHedges:
				v = m.hedges
			case kRetries:
				v = m.retries
			}
			return series{ctr: v.WithLabelValues(m.targets.label(t))}
		}).ctr.Inc()
	}
}

// attemptError is an attempt's outcome as an error type index: idxEmpty
// for a success, its error code, or its status.
func (m *Metrics) attemptError(a *gateway.Attempt) int {
	switch {
	case a.Err != "":
		return m.errs.index(a.Err)
	case a.Status/100 != 2:
		return m.errs.index(statusLabel(a.Status))
	}
	return idxEmpty
}

// servedAttempt is the attempt whose response reached the caller
// (Call.Served), or nil.
func servedAttempt(atts []gateway.Attempt, target, model string) *gateway.Attempt {
	for i := len(atts) - 1; i >= 0; i-- {
		a := &atts[i]
		if a.Status/100 == 2 && a.Err == "" && a.Target == target && a.Model == model {
			return a
		}
	}
	return nil
}
