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
// max_completion_tokens), and an estimate of the prompt tokens. It validates
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
	s        jsonScanner
	c        *parsed
	op       Op
	lim      Limits
	text     textCount
	items    int // messages, prompts or inputs
	sawModel bool
	sawOpts  bool
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
	if !p.sawModel || p.c.Model == "" {
		return badRequest("gateway: missing model")
	}
	if p.items > p.lim.MaxMessages {
		return badRequest(fmt.Sprintf("gateway: too many messages or inputs: %d, limit %d", p.items, p.lim.MaxMessages))
	}
	est := p.text.tokens()
	if p.op == OpChat {
		est += tokensPerMessage*p.items + 3
	}
	p.c.PromptTokens = est
	p.c.spans.hasOpts = p.sawOpts
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

// readFields are the top-level fields the gateway reads. A key that any
// decoder could take for one of them must mean the same here: escapes are
// decoded before matching, and a case variant is refused, because Go's
// encoding/json folds case and takes the last match, so a Go upstream would
// read a field the gateway did not check.
var readFields = []string{"model", "stream", "stream_options", "max_tokens", "max_completion_tokens",
	"messages", "prompt", "input", "tools", "functions", "system"}

func (p *callParser) member(ks, ke int) error {
	s := &p.s
	if s.atEnd() {
		return errJSONSyntax // truncated: say so, not that a field has the wrong type
	}
	key := s.b[ks:ke]
	if bytes.IndexByte(key, '\\') >= 0 {
		var k string
		if err := json.Unmarshal(s.b[ks-1:ke+1], &k); err != nil {
			return errJSONSyntax
		}
		key = []byte(k)
	}
	switch string(key) {
	case "model":
		return p.model()
	case "stream":
		v, err := s.boolOrNull()
		if err != nil {
			return badRequest("gateway: stream must be a boolean")
		}
		p.c.Stream = v
		return nil
	case "stream_options":
		return p.streamOptions()
	case "max_tokens", "max_completion_tokens":
		return p.maxTokens()
	case "tools", "functions", "system":
		// Sent to the model too, so counted in the estimate.
		return s.value(&p.text)
	}
	switch {
	case string(key) == "messages" && p.op == OpChat,
		string(key) == "prompt" && p.op == OpCompletion,
		string(key) == "input" && p.op == OpEmbedding:
		return p.countItems()
	}
	for _, f := range readFields {
		if len(key) == len(f) && string(key) != f && strings.EqualFold(string(key), f) {
			return badRequest("gateway: ambiguous field " + string(key) + " (field names are case-sensitive)")
		}
	}
	return s.value(nil)
}

func (p *callParser) model() error {
	s := &p.s
	if p.sawModel {
		// Two model keys would let a caller pass a permission check on one
		// and be served the other, since decoders differ on which wins.
		return badRequest("gateway: duplicate model field")
	}
	p.sawModel = true
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

func (p *callParser) streamOptions() error {
	s := &p.s
	p.sawOpts = true
	if s.peek() == 'n' {
		return s.literal("null")
	}
	return s.object(func(ks, ke int) error {
		if s.key(ks, ke, "include_usage") {
			v, err := s.boolOrNull()
			if err != nil {
				return badRequest("gateway: stream_options.include_usage must be a boolean")
			}
			p.c.IncludeUsage = v
			return nil
		}
		return s.value(nil)
	})
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
