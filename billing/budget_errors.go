package billing

import (
	"net/http"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/hooks"
)

// Sentinels for what budgets refuse. Each is a *gateway.Error kind: match
// with errors.Is.
//
// A refusal is 402 Payment Required, not 429: a spent budget is no
// transient rate condition, and SDKs retry a 429 (openai-go twice by
// default), which would only repeat the refusal. Its type is OpenAI's
// "insufficient_quota", which clients already treat as "stop spending".
var (
	// ErrBudgetExceeded: the call's hold would take its key's or its
	// tenant's budget over its limit for the period. 402, code
	// "budget_exceeded", Retry-After = until the period ends (none for a
	// budget that never resets).
	ErrBudgetExceeded = newSentinel(http.StatusPaymentRequired, "insufficient_quota", "budget_exceeded",
		"billing: budget exceeded")

	// ErrUnpricedModel: a call with a budget asked for a model that has no
	// price, so what it may cost cannot be held. 402, code
	// "model_unpriced". (BudgetConfig.AdmitUnpriced admits such calls
	// unheld instead.)
	ErrUnpricedModel = newSentinel(http.StatusPaymentRequired, "insufficient_quota", "model_unpriced",
		"billing: the model has no price, so its budget cannot be held")

	// ErrBudgetUnavailable: the budget store could not be reached, and a
	// call with a budget is not admitted unchecked. 503, code
	// "budget_unavailable".
	ErrBudgetUnavailable = newSentinel(http.StatusServiceUnavailable, "service_unavailable", "budget_unavailable",
		"billing: budget store unavailable")
)

func newSentinel(status int, typ, code, msg string) *gateway.Error {
	return hooks.NewSentinel(status, typ, code, msg).(*gateway.Error)
}
