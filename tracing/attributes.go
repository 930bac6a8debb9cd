package tracing

import (
	"go.opentelemetry.io/otel/attribute"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/genai"
)

// Attribute keys. The gen_ai.*, server.*, http.* and error.type ones are the
// OpenTelemetry semantic conventions' (GenAI client inference spans, in
// development status; HTTP; errors); the llmgate.* ones are the gateway's
// own. None holds a key, a prompt or a completion (llmgate.request.body,
// only with Config.CaptureContent, holds the prompt).
const (
	KeyOperationName   = attribute.Key("gen_ai.operation.name")
	KeyProviderName    = attribute.Key("gen_ai.provider.name")
	KeyRequestModel    = attribute.Key("gen_ai.request.model")
	KeyRequestStream   = attribute.Key("gen_ai.request.stream")
	KeyRequestMaxTok   = attribute.Key("gen_ai.request.max_tokens")
	KeyResponseModel   = attribute.Key("gen_ai.response.model")
	KeyTimeToFirst     = attribute.Key("gen_ai.response.time_to_first_chunk") // seconds
	KeyInputTokens     = attribute.Key("gen_ai.usage.input_tokens")           // every input token, cache reads and writes included
	KeyOutputTokens    = attribute.Key("gen_ai.usage.output_tokens")
	KeyCacheReadTokens = attribute.Key("gen_ai.usage.cache_read.input_tokens")
	KeyCacheWriteToks  = attribute.Key("gen_ai.usage.cache_write.input_tokens")
	KeyReasoningTokens = attribute.Key("gen_ai.usage.reasoning.output_tokens")
	KeyServerAddress   = attribute.Key("server.address")
	KeyServerPort      = attribute.Key("server.port")
	KeyHTTPStatus      = attribute.Key("http.response.status_code")
	KeyErrorType       = attribute.Key("error.type")

	KeyCallID         = attribute.Key("llmgate.call.id")
	KeyAttempts       = attribute.Key("llmgate.attempts")        // on a call span: attempts recorded
	KeyAttempt        = attribute.Key("llmgate.attempt")         // on an attempt span: its number (gateway.Attempt.N)
	KeyAttemptKind    = attribute.Key("llmgate.attempt.kind")    // first, retry, fallback, hedge
	KeyAttemptSent    = attribute.Key("llmgate.attempt.sent")    // false on a round trip refused before sending (no attempt)
	KeyTarget         = attribute.Key("llmgate.target")          // the router target (the Provider's name)
	KeyModelSent      = attribute.Key("llmgate.model.sent")      // on an attempt span: the model sent upstream
	KeyUsageEstimated = attribute.Key("llmgate.usage.estimated") // the provider reported no usage
	KeyCacheResult    = attribute.Key("llmgate.cache.result")    // hit, shared, miss
	KeyRequestBody    = attribute.Key("llmgate.request.body")    // only with Config.CaptureContent
)

// Attempt kinds (llmgate.attempt.kind): gateway.Attempt.Kind's names, as
// the Call decided them.
var (
	KindFirst    = gateway.AttemptFirst.String()
	KindRetry    = gateway.AttemptRetry.String()
	KindFallback = gateway.AttemptFallback.String()
	KindHedge    = gateway.AttemptHedge.String()
)

// operationName is the GenAI convention's gen_ai.operation.name of op,
// as metrics names it too.
func operationName(op gateway.Op) string { return genai.OperationName(op) }

// spanName is the convention's "{gen_ai.operation.name} {gen_ai.request.model}",
// or the operation alone when the model is unknown.
func spanName(op, model string) string {
	if model == "" {
		return op
	}
	return op + " " + model
}
