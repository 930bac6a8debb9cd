package gatewaytest

import (
	"cmp"
	"strings"
)

// What a Sim produces is bounded (SimConfig's doc): a request past a bound
// gets a 400 (parse, parseEmbedding), a configuration past one is refused
// by Validate.
const (
	maxEmbeddingDims   = 4096    // dimensions of one vector
	maxEmbeddingInputs = 2048    // inputs of one embeddings request, as OpenAI's
	maxEmbeddingValues = 1 << 18 // inputs × dimensions: about 3 MB of JSON
	maxModelBytes      = 256     // a model name, echoed in every answer and event
)

const (
	defaultCompletionTokens = 16
	// maxReplyBytes bounds the text of a reply, so that no configuration
	// makes a Sim build an unbounded answer: a non-stream reply is built
	// whole (a stream is made as it is read, however long).
	maxReplyBytes = 16 << 20
)

// replyFits reports whether the text of a whole reply under cfg (its
// CompletionTokens words of the reply, each but the first after a space)
// is at most maxReplyBytes. A Reply with no words is reported apart.
func replyFits(cfg SimConfig) bool {
	words := strings.Fields(cfg.Reply)
	if cfg.Reply == "" {
		words = strings.Fields(DefaultSimReply)
	}
	if len(words) == 0 {
		return true
	}
	cycle := 0 // bytes of one pass over the words
	for _, w := range words {
		cycle += len(w) + 1
	}
	n := cmp.Or(cfg.CompletionTokens, defaultCompletionTokens)
	if n/len(words) > maxReplyBytes/cycle {
		return false
	}
	total := n / len(words) * cycle
	for _, w := range words[:n%len(words)] {
		total += len(w) + 1
	}
	return total <= maxReplyBytes+1 // the first token has no space
}
