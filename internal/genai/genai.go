// Package genai holds what the OpenTelemetry GenAI conventions name, for
// the packages that report in them (metrics, tracing): one mapping, so a
// call's metrics and its spans agree.
package genai

import "github.com/llmgate/gateway"

// OperationName is the conventions' gen_ai.operation.name of op: chat for
// the chat completions, Anthropic's Messages and the Responses API,
// text_completion, embeddings; an operation with no convention name (the
// model list, count_tokens, an unknown one) keeps the gateway's.
func OperationName(op gateway.Op) string {
	switch op {
	case gateway.OpChat, gateway.OpMessages, gateway.OpResponses:
		return "chat"
	case gateway.OpCompletion:
		return "text_completion"
	case gateway.OpEmbedding:
		return "embeddings"
	}
	return op.String()
}
