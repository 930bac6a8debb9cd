package billing

import (
	"time"

	"github.com/llmgate/gateway"
)

// Record is the usage record of one attempt that reached a provider: what it
// consumed and what that cost. (CallID, Attempt) is its idempotency key:
// every sink stores a record once however often it is delivered.
//
// A Record never holds a secret: the caller is named by its key id and
// tenant, never by its key.
type Record struct {
	CallID  string    `json:"call_id"`
	Attempt int       `json:"attempt"` // Attempt.N, 1-based
	Time    time.Time `json:"time"`    // when the attempt started

	KeyID  string `json:"key_id,omitempty"`
	Tenant string `json:"tenant,omitempty"`

	Target      string `json:"target"`       // the provider target that answered
	ModelAsked  string `json:"model_asked"`  // Call.Model
	ModelServed string `json:"model_served"` // the model the attempt sent

	Usage gateway.Usage `json:"usage"` // Usage.Estimated when the provider reported none

	Outcome string        `json:"outcome"`          // "ok", or the attempt's error code
	Status  int           `json:"status,omitempty"` // HTTP status; 0 without a response
	Latency time.Duration `json:"latency_ns"`
	TTFT    time.Duration `json:"ttft_ns,omitempty"`
	Stream  bool          `json:"stream,omitempty"`

	// Cost is in nano-dollars (1e-9 USD), an integer so sums are exact.
	// CostKnown is false when no price is known for the model served: the
	// cost is then unknown, not zero.
	Cost      int64 `json:"cost_nano_usd"`
	CostKnown bool  `json:"cost_known"`
}
