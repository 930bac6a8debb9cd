package breaker

import (
	"net/http"

	"github.com/llmgate/gateway"
)

// named is a per-target middleware's RoundTripper over a Provider: it keeps
// the provider's name, so that whoever dispatches through it (Retry, Hedge
// or the entry point) still sees a gateway.Provider and records attempts
// under that name. CircuitBreaker, Bulkhead and Timeouts keep the name;
// Retry and Hedge, which record attempts themselves, do not.
type named struct {
	http.RoundTripper
	name string
}

func (n *named) Name() string { return n.name }

// keepName returns rt, named after next when next is a Provider.
func keepName(next, rt http.RoundTripper) http.RoundTripper {
	if p, ok := next.(gateway.Provider); ok {
		return &named{RoundTripper: rt, name: p.Name()}
	}
	return rt
}

// refused reports whether err is a refusal made before anything was sent
// (this package's, or a router's finding no target to try): such an attempt
// reached no provider and is not recorded.
func refused(err error) bool {
	ge := asGatewayError(err)
	return ge != nil && (ge.Is(ErrOpen) || ge.Is(ErrCoolingDown) || ge.Is(ErrBulkheadFull) ||
		ge.Is(gateway.ErrNoHealthyProvider))
}
