package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Per-message overhead of the chat format, in tokens (role, separators).
const tokensPerMessage = 4

// parsed is what parseCall reads from a request body.
type parsed struct {
	Model        string
	Stream       bool
	IncludeUsage bool
	MaxTokens    int
	PromptTokens int
	spans        bodySpans
}

// parseCall reads the fields the gateway needs from a request body of the
// given operation, in one pass and without decoding the prompt: model,
// stream, stream_options.include_usage, max_tokens (or
// max_completion_tokens; a Responses call's max_output_tokens), and an
// estimate of the prompt tokens. It validates
// the whole body as JSON and enforces lim (zero fields take their defaults).
// A model list or an unknown operation reads nothing.
//
// The model may alias body, so the caller must not modify body afterwards.
// Errors derive from ErrBadRequest.
func parseCall(op Op, body []byte, lim Limits) (parsed, error) {
	var out parsed
	err := parseInto(&out, op, body, lim)
	return out, err
}

// parseInto is parseCall into out, for a caller that keeps out on the heap
// already (the entry point, in the Call's own allocation).
func parseInto(out *parsed, op Op, body []byte, lim Limits) error {
	if op == OpModels || op == OpUnknown {
		return nil
	}
	lim = lim.withDefaults()
	if len(body) == 0 {
		return badRequest("gateway: request body is empty")
	}
	p := callParser{s: jsonScanner{b: body, maxDepth: lim.MaxDepth}, c: out, op: op, lim: lim}
	if err := p.parse(); err != nil {
		*out = parsed{}
		return err
	}
	return nil
}

type callParser struct {
	s     jsonScanner
	c     *parsed
	op    Op
	lim   Limits
	text  textCount
	items int    // messages, prompts or inputs
	seen  uint16 // the read fields met so far, a bit each (readFields)
}

func (p *callParser) parse() error {
	s := &p.s
	if s.peek() != '{' {
		return badRequest("gateway: request body must be a JSON object")
	}
	if err := s.object(p.member); err != nil {
		return p.syntaxError(err)
	}
	if !s.atEnd() {
		return badRequest(fmt.Sprintf("gateway: invalid JSON: unexpected data after the object at byte %d", s.i))
	}
	if p.seen&(1<<fieldModel) == 0 || p.c.Model == "" {
		return badRequest("gateway: missing model")
	}
	if p.op == OpMessages && p.seen&(1<<fieldMaxTokens) == 0 {
		// Anthropic's API requires it (count_tokens does not); a body
		// without it is refused here, as Anthropic would, not sent.
		return badRequest("gateway: max_tokens: Field required")
	}
	if p.items > p.lim.MaxMessages {
		return badRequest(fmt.Sprintf("gateway: too many messages or inputs: %d, limit %d", p.items, p.lim.MaxMessages))
	}
	est := p.text.tokens()
	if p.op == OpChat || p.op.anthropic() || p.op == OpResponses {
		est += tokensPerMessage*p.items + 3
	}
	p.c.PromptTokens = est
	return nil
}

func (p *callParser) syntaxError(err error) error {
	switch err {
	case errJSONDepth:
		return badRequest(fmt.Sprintf("gateway: JSON nested deeper than %d levels", p.lim.MaxDepth))
	case errJSONSyntax:
		return badRequest(fmt.Sprintf("gateway: invalid JSON at byte %d", p.s.i))
	}
	return err // already a gateway error
}

// readFields are the top-level fields the gateway reads, and usageField
// the one it reads inside stream_options. A key that any decoder could take
// for one of them must mean the same here, whichever decoder the upstream
// uses:
//   - escapes are decoded before matching;
//   - a case variant is refused, because Go's encoding/json folds case (as
//     Unicode does: "ſtream" with U+017F is stream to it) and takes the last
//     match, so a Go upstream would read a field the gateway did not check;
//   - a duplicate is refused, because decoders differ on which one wins
//     (Go's and Python's take the last, others the first).
//
// With one spelling and one occurrence, every decoder reads what the gateway
// read.
var readFields = [...]string{fieldModel: "model", fieldStream: "stream", fieldStreamOptions: "stream_options",
	fieldMaxTokens: "max_tokens", fieldMaxCompletionTokens: "max_completion_tokens",
	fieldMessages: "messages", fieldPrompt: "prompt", fieldInput: "input",
	fieldTools: "tools", fieldFunctions: "functions", fieldSystem: "system"}

const usageField = "include_usage"

// Indexes of readFields, and bits of callParser.seen.
const (
	fieldModel = iota
	fieldStream
	fieldStreamOptions
	fieldMaxTokens
	fieldMaxCompletionTokens
	fieldMessages
	fieldPrompt
	fieldInput
	fieldTools
	fieldFunctions
	fieldSystem
)

// keyName returns the name of the key whose raw content is at [ks,ke):
// the bytes themselves, or their decoding when they hold escapes.
func (p *callParser) keyName(ks, ke int) ([]byte, error) {
	key := p.s.b[ks:ke]
	if bytes.IndexByte(key, '\\') < 0 {
		return key, nil
	}
	var k string
	if err := json.Unmarshal(p.s.b[ks-1:ke+1], &k); err != nil {
		return nil, errJSONSyntax
	}
	return []byte(k), nil
}

// foldsTo reports whether key is a case variant of name, as Go's
// encoding/json matches them. A variant is at most three times as long
// (U+212A, the Kelvin sign, is k in three bytes).
func foldsTo(key []byte, name string) bool {
	return len(key) <= 3*len(name) && string(key) != name && strings.EqualFold(string(key), name)
}

func (p *callParser) member(ks, ke int) error {
	s := &p.s
	if s.atEnd() {
		return errJSONSyntax // truncated: say so, not that a field has the wrong type
	}
	key, err := p.keyName(ks, ke)
	if err != nil {
		return err
	}
	names := p.fields()
	f := -1
	for i, name := range names {
		if string(key) == name {
			f = i
			break
		}
	}
	if f < 0 {
		for _, name := range names {
			if foldsTo(key, name) {
				return badRequest("gateway: ambiguous field " + string(key) + " (field names are case-sensitive)")
			}
		}
		return s.value(nil)
	}
	if p.seen&(1<<f) != 0 {
		// Two model keys, say, would let a caller pass a permission
		// check on one and be served the other.
		return badRequest("gateway: duplicate " + names[f] + " field")
	}
	p.seen |= 1 << f
	switch f {
	case fieldModel:
		return p.model()
	case fieldStream:
		v, err := s.boolOrNull()
		if err != nil {
			return badRequest("gateway: stream must be a boolean")
		}
		// Only an operation that streams streams; on another (an
		// embedding, a token count) the field is the upstream's to
		// ignore or refuse, and the answer is JSON.
		p.c.Stream = v && p.op.streams()
		return nil
	case fieldStreamOptions:
		return p.streamOptions()
	case fieldMaxTokens, fieldMaxCompletionTokens:
		return p.maxTokens()
	case fieldTools, fieldFunctions, fieldSystem:
		// Sent to the model too, so counted in the estimate.
		return s.value(&p.text)
	case fieldMessages, fieldPrompt, fieldInput:
		if f == fieldMessages && (p.op == OpChat || p.op.anthropic()) || f == fieldPrompt && p.op == OpCompletion ||
			f == fieldInput && (p.op == OpEmbedding || p.op == OpResponses) {
			return p.countItems()
		}
	case fieldMaxOutputTokens:
		return p.maxTokens()
	case fieldInstructions:
		return s.value(&p.text) // sent to the model: counted
	}
	return s.value(nil)
}

func (p *callParser) model() error {
	s := &p.s
	if s.peek() != '"' {
		return badRequest("gateway: model must be a string")
	}
	start, end, esc, err := s.str(nil)
	if err != nil {
		return err
	}
	p.c.spans.modelStart, p.c.spans.modelEnd = start-1, end+1
	if !utf8.Valid(s.b[start:end]) {
		// Decoders disagree on invalid UTF-8 (encoding/json substitutes
		// U+FFFD), so a model name must be unambiguous text.
		return badRequest("gateway: model is not valid UTF-8")
	}
	if esc {
		var m string
		if err := json.Unmarshal(s.b[start-1:end+1], &m); err != nil {
			return errJSONSyntax
		}
		p.c.Model = m
	} else if end > start {
		// A body is immutable once parsed, so the model can share its
		// bytes.
		p.c.Model = unsafe.String(&s.b[start], end-start)
	}
	return nil
}

// streamOptions reads stream_options (an object or null) and its
// include_usage, and records where both values stand for the edit that asks
// the upstream for usage (bodyedit.go).
func (p *callParser) streamOptions() error {
	s := &p.s
	sp := &p.c.spans
	switch s.peek() {
	case 'n':
		sp.optsStart = s.i
		err := s.literal("null")
		sp.optsEnd = s.i
		return err
	case '{':
	default:
		if s.atEnd() {
			return errJSONSyntax
		}
		return badRequest("gateway: stream_options must be an object")
	}
	sp.optsStart = s.i
	err := s.object(func(ks, ke int) error {
		if s.atEnd() {
			return errJSONSyntax
		}
		key, err := p.keyName(ks, ke)
		if err != nil {
			return err
		}
		switch {
		case string(key) == usageField:
			if sp.usageEnd != 0 {
				return badRequest("gateway: duplicate stream_options." + usageField + " field")
			}
			s.peek() // past spaces: the value starts here
			vs := s.i
			v, err := s.boolOrNull()
			if err != nil {
				return badRequest("gateway: stream_options.include_usage must be a boolean")
			}
			p.c.IncludeUsage = v
			sp.usageStart, sp.usageEnd = vs, s.i
			return nil
		case foldsTo(key, usageField):
			return badRequest("gateway: ambiguous field stream_options." + string(key) + " (field names are case-sensitive)")
		}
		return s.value(nil)
	})
	sp.optsEnd = s.i
	return err
}

func (p *callParser) maxTokens() error {
	s := &p.s
	if s.peek() == 'n' {
		return s.literal("null")
	}
	v, ok, err := s.integer()
	if err != nil {
		return err
	}
	if !ok || v < 0 {
		return badRequest("gateway: max_tokens must be a non-negative integer")
	}
	if v > p.lim.MaxTokens {
		return badRequest(fmt.Sprintf("gateway: max_tokens %d exceeds the limit of %d", v, p.lim.MaxTokens))
	}
	p.c.MaxTokens = max(p.c.MaxTokens, v)
	return nil
}

// countItems consumes messages, a prompt or an input: a string, or an array
// whose elements are counted against MaxMessages.
func (p *callParser) countItems() error {
	s := &p.s
	if s.peek() != '[' {
		p.items++
		return s.value(&p.text)
	}
	_, err := s.array(func() error {
		if p.items++; p.items > p.lim.MaxMessages {
			return badRequest(fmt.Sprintf("gateway: too many messages or inputs: more than %d", p.lim.MaxMessages))
		}
		return s.value(&p.text)
	})
	return err
}
