package gateway

import (
	"bytes"

	"github.com/llmgate/gateway/internal/jsonstr"
)

// Edits of a request body on the way upstream. Each returns a new Outbound
// and leaves its input untouched, since a body is shared by every attempt
// that sends it. Each is one copy of the body, changing only the bytes it
// must, at positions the parser recorded (and each edit keeps up to date).

// bodySpans are positions the parser found in a body, each a value's
// [start, end). They never overlap, and no position is 0 (the body's first
// value byte is its opening brace), so a zero end means absent.
type bodySpans struct {
	// The model's JSON string, quotes included; modelEnd is 0 when the
	// spans are not known (an Outbound built without the parser).
	modelStart, modelEnd int
	optsStart, optsEnd   int // the stream_options value (an object or null)
	usageStart, usageEnd int // stream_options.include_usage's value
}

// shifted returns sp with every position at or after at moved by delta: the
// spans after an edit that replaced bytes ending at at.
func (sp bodySpans) shifted(at, delta int) bodySpans {
	for _, p := range [...]*int{&sp.modelStart, &sp.modelEnd, &sp.optsStart, &sp.optsEnd, &sp.usageStart, &sp.usageEnd} {
		if *p >= at && *p != 0 {
			*p += delta
		}
	}
	return sp
}

// located returns o's spans, scanning the body for them when they are not
// known.
func (o Outbound) located() (bodySpans, error) {
	if o.spans.modelEnd != 0 {
		return o.spans, nil
	}
	p, err := parseCall(OpChat, o.Body, Limits{MaxDepth: 1 << 10, MaxMessages: 1 << 30, MaxTokens: 1 << 30})
	return p.spans, err
}

// replaced returns o's body with [at,end) replaced by text (one copy), and
// the spans shifted to match.
func (o Outbound) replaced(sp bodySpans, at, end int, text string) ([]byte, bodySpans) {
	b := o.Body
	out := make([]byte, 0, len(b)-(end-at)+len(text))
	out = append(out, b[:at]...)
	out = append(out, text...)
	out = append(out, b[end:]...)
	return out, sp.shifted(end, len(text)-(end-at))
}

// renamed returns o sending model: the model's JSON string replaced where it
// stands.
func (o Outbound) renamed(model string) Outbound {
	sp, err := o.located()
	if err != nil {
		// WithBody and the entry point validated this body.
		return Outbound{Model: o.Model, Body: o.Body}
	}
	out := make([]byte, 0, len(o.Body)+len(model)+2)
	out = append(out, o.Body[:sp.modelStart]...)
	out = jsonstr.Append(out, model)
	out = append(out, o.Body[sp.modelEnd:]...)
	sp = sp.shifted(sp.modelEnd, len(out)-len(o.Body))
	return Outbound{Model: model, Body: out, spans: sp}
}

const (
	usageTrue   = `"include_usage":true`
	usageObject = `{` + usageTrue + `}`
	usageOption = `"stream_options":` + usageObject // for a body without stream_options
)

// withIncludeUsage returns o with stream_options.include_usage set to true,
// so that a streaming upstream reports usage, in one copy of the body that
// keeps every other byte:
//   - no stream_options: the member is inserted after the opening brace;
//   - stream_options null: it becomes {"include_usage":true};
//   - an object without include_usage: the member is inserted first in it;
//   - include_usage false or null: it becomes true.
//
// It returns o itself when include_usage is true already.
func (o Outbound) withIncludeUsage() (Outbound, error) {
	sp, err := o.located()
	if err != nil {
		return o, err
	}
	b := o.Body
	var out []byte
	switch {
	case sp.optsEnd == 0:
		at := bytes.IndexByte(b, '{') + 1 // the parser found an object
		text := usageOption + ","
		if rest := bytes.TrimLeft(b[at:], " \t\r\n"); len(rest) == 0 || rest[0] == '}' {
			text = usageOption
		}
		out, sp = o.replaced(sp, at, at, text)
		sp.optsStart = at + len(`"stream_options":`)
		sp.optsEnd = sp.optsStart + len(usageObject)
		sp.usageEnd = sp.optsEnd - len(`}`)
		sp.usageStart = sp.usageEnd - len(`true`)
	case b[sp.optsStart] == 'n':
		out, sp = o.replaced(sp, sp.optsStart, sp.optsEnd, usageObject)
		sp.usageEnd = sp.optsEnd - len(`}`)
		sp.usageStart = sp.usageEnd - len(`true`)
	case sp.usageEnd == 0:
		at := sp.optsStart + 1
		text := usageTrue + ","
		if bytes.TrimLeft(b[at:sp.optsEnd], " \t\r\n")[0] == '}' {
			text = usageTrue
		}
		out, sp = o.replaced(sp, at, at, text)
		sp.usageStart = at + len(`"include_usage":`)
		sp.usageEnd = sp.usageStart + len(`true`)
	case string(b[sp.usageStart:sp.usageEnd]) == "true":
		return o, nil
	default: // false or null
		out, sp = o.replaced(sp, sp.usageStart, sp.usageEnd, "true")
	}
	return Outbound{Model: o.Model, Body: out, spans: sp}, nil
}
