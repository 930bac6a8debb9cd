package gateway

import (
	"bytes"
	"net/http"

	"github.com/llmgate/gateway/internal/anthropicwire"
)

// The Anthropic-format front door: POST /v1/messages (OpMessages) and
// /v1/messages/count_tokens (OpCountTokens) go through the same chain as
// every call, parsed once into the Call (model, stream, max_tokens, the
// prompt estimate from system, messages and tools; a Messages body without
// max_tokens, which Anthropic requires, gets 400 and is not sent); what
// differs is the format, and this file and messagescan.go hold every
// difference:
//
//   - the gateway's own errors are in Anthropic's shape,
//     {"type":"error","error":{"type","message"}}, with the same statuses,
//     Retry-After and X-Llmgate-Error (so ErrorFromResponse works as on
//     every path), and a stream cut after its start ends with an Anthropic
//     error event;
//   - the body is not edited for usage (Anthropic streams always report
//     it), and the usage tap reads message_start and message_delta, with
//     Anthropic's input_tokens plus its cache reads and writes as
//     Usage.PromptTokens;
//   - the attempt boundary holds a stream until its first content block
//     delta, a tool_use start or a stop reason.
//
// Providers answer these operations in Anthropic's format: provider.Anthropic
// natively, OpenAI-format providers by translating both ways.

// anthropic reports whether the operation speaks Anthropic's format.
func (o Op) anthropic() bool { return o == OpMessages || o == OpCountTokens }

// writeOpError is writeError in the format of op.
func writeOpError(w http.ResponseWriter, op Op, err error) {
	if !op.anthropic() {
		writeError(w, err)
		return
	}
	ge := ErrorFor(err)
	ge.setHeaders(w.Header())
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(ge.Status)
	_, _ = w.Write(anthropicwire.ErrorJSON(ge.Status, ge.Message))
}

// opErrorResponse is errorResponse in the format of op.
func opErrorResponse(req *http.Request, op Op, err error) *http.Response {
	resp := errorResponse(req, err)
	if op.anthropic() {
		body := anthropicwire.ErrorJSON(resp.StatusCode, ErrorFor(err).Message)
		resp.Body, resp.ContentLength = newBytesBody(body), int64(len(body))
	}
	return resp
}

// appendOpErrorEvent is appendErrorEvent in the format of op: for
// Anthropic's, an "error" event, which its SDKs report as a stream error.
func appendOpErrorEvent(dst []byte, op Op, err error) []byte {
	if !op.anthropic() {
		return appendErrorEvent(dst, err)
	}
	ge := ErrorFor(err)
	return append(dst, anthropicwire.ErrorEvent(ge.Status, ge.Message)...)
}

// messagesUsage is u, read from Anthropic's usage names (usageSlot), in
// the gateway's terms: Anthropic's input_tokens leaves out the tokens read
// from and written to the cache, which Usage.PromptTokens counts.
func messagesUsage(u Usage) Usage {
	u.PromptTokens += u.CachedTokens + u.CacheWriteTokens
	return u
}

// maxUsage merges two cumulative reports of one stream's usage: a count
// only grows, and message_delta may leave out what message_start said.
func maxUsage(a, b Usage) Usage {
	a.PromptTokens = max(a.PromptTokens, b.PromptTokens)
	a.CompletionTokens = max(a.CompletionTokens, b.CompletionTokens)
	a.CachedTokens = max(a.CachedTokens, b.CachedTokens)
	a.CacheWriteTokens = max(a.CacheWriteTokens, b.CacheWriteTokens)
	a.CacheWrite1hTokens = max(a.CacheWrite1hTokens, b.CacheWrite1hTokens)
	a.ReasoningTokens = max(a.ReasoningTokens, b.ReasoningTokens)
	return a
}

var (
	keyType         = "type"
	msgTypeError    = []byte("error")
	msgTypeStop     = []byte("message_stop")
	blockNotContent = [][]byte{[]byte("text"), []byte("thinking")}
)

// isContentBlockType reports whether a started block is content by itself
// (a tool_use's name, a redacted_thinking block), unlike an empty text or
// thinking block, whose deltas are.
func isContentBlockType(t []byte) bool {
	for _, n := range blockNotContent {
		if bytes.Equal(t, n) {
			return false
		}
	}
	return len(t) > 0
}
