package gateway

// AttemptKind is what an attempt was to its call, decided once, by the
// Call, when its attempt boundary started it (see Attempt.Kind). Metrics and
// traces read it from the Attempt; none decides it again.
type AttemptKind uint8

// The kinds of attempt.
const (
	// AttemptFirst is a call's first attempt.
	AttemptFirst AttemptKind = iota
	// AttemptRetry started after the call's attempt before it, at the same
	// target (breaker.Retry trying again).
	AttemptRetry
	// AttemptFallback started after the call's attempt before it, at
	// another target (a router moving on).
	AttemptFallback
	// AttemptHedge started while another attempt of the call was running
	// (breaker.Hedge's second try).
	AttemptHedge
)

var attemptKindNames = [...]string{"first", "retry", "fallback", "hedge"}

// String is the kind's name: first, retry, fallback or hedge.
func (k AttemptKind) String() string {
	if int(k) < len(attemptKindNames) {
		return attemptKindNames[k]
	}
	return "unknown"
}
