package gateway

// Op is the operation a call asks for, named by the request path.
type Op uint8

// The operations the gateway understands.
const (
	OpUnknown    Op = iota
	OpChat          // POST /v1/chat/completions
	OpCompletion    // POST /v1/completions
	OpEmbedding     // POST /v1/embeddings
	OpModels        // GET /v1/models
	// OpMessages is Anthropic's Messages API (POST /v1/messages): its
	// bodies, answers, streams and errors are in Anthropic's format
	// (see messages.go).
	OpMessages
	OpCountTokens // POST /v1/messages/count_tokens, Anthropic's format
	OpResponses   // POST /v1/responses (OpenAI's Responses API)
)

var opNames = [...]string{"unknown", "chat", "completion", "embedding", "models", "messages", "count_tokens", "responses"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "unknown"
}

// opFromPath names the operation of a request path. It matches on the suffix,
// so "/v1/chat/completions", "/openai/v1/chat/completions" and an SDK base URL
// with a prefix all map to OpChat.
func opFromPath(path string) Op {
	switch {
	case hasSuffix(path, "/messages/count_tokens"):
		return OpCountTokens
	case hasSuffix(path, "/messages"):
		return OpMessages
	case hasSuffix(path, "/chat/completions"):
		return OpChat
	case hasSuffix(path, "/completions"):
		return OpCompletion
	case hasSuffix(path, "/embeddings"):
		return OpEmbedding
	case hasSuffix(path, "/models"):
		return OpModels
	case hasSuffix(path, "/responses"):
		return OpResponses
	}
	return OpUnknown
}

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}

// streams reports whether the op answers with a stream when its body asks
// for one ("stream": true): chat, completions, Messages and the Responses
// API, not embeddings or token counts.
func (o Op) streams() bool {
	return o == OpChat || o == OpCompletion || o == OpMessages || o == OpResponses
}

// streamUsageOnRequest reports whether the op's streams report usage only
// when asked (stream_options.include_usage), so that the entry point (and
// WithBody) asks for every call and the usage tap removes what the caller
// did not ask for. Anthropic's streams and the Responses API's always
// report it (message_delta, response.completed), and the caller reads it
// whole.
func (o Op) streamUsageOnRequest() bool { return !o.anthropic() && o != OpResponses }
