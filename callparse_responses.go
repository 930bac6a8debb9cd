package gateway

// What the parser reads of a Responses API call (POST /v1/responses) besides
// the fields every call has: max_output_tokens, its MaxTokens, and
// instructions, its system prompt, counted in the estimate with input (a
// string, or items counted as messages) and tools. They are read fields of
// this operation only: in a chat body "instructions" means nothing to the
// gateway and is passed on as any unknown field is.

// Indexes of the Responses-only fields, after readFields', and bits of
// callParser.seen.
const (
	fieldMaxOutputTokens = len(readFields) + iota
	fieldInstructions
)

// responsesFields are readFields and the Responses-only fields, by index.
var responsesFields = append(readFields[:len(readFields):len(readFields)],
	"max_output_tokens", "instructions")

// fields returns the names of the fields the parser reads in p's operation,
// indexed as callParser.seen's bits.
func (p *callParser) fields() []string {
	if p.op == OpResponses {
		return responsesFields
	}
	return readFields[:]
}
