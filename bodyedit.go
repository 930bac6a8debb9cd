package gateway

import (
	"bytes"
	"encoding/json"

	"github.com/llmgate/gateway/internal/jsonstr"
)

// Edits of a request body on the way upstream. Each returns a new Outbound
// and leaves its input untouched, since a body is shared by every attempt
// that sends it.

// bodySpans are positions the parser found in a body.
type bodySpans struct {
	// The model's JSON string, quotes included; modelEnd is 0 when unknown.
	modelStart, modelEnd int
	hasOpts              bool // the body holds a stream_options member
}

// renamed returns o sending model: the model's JSON string replaced where it
// stands. When its position is not known (an edited body), the body is
// scanned for it once.
func (o Outbound) renamed(model string) Outbound {
	sp := o.spans
	if sp.modelEnd == 0 {
		p, err := parseCall(OpChat, o.Body, Limits{MaxDepth: 1 << 10, MaxMessages: 1 << 30, MaxTokens: 1 << 30})
		if err != nil {
			// WithBody and the entry point validated this body.
			return Outbound{Model: o.Model, Body: o.Body}
		}
		sp = p.spans
	}
	out := make([]byte, 0, len(o.Body)+len(model)+2)
	out = append(out, o.Body[:sp.modelStart]...)
	out = jsonstr.Append(out, model)
	out = append(out, o.Body[sp.modelEnd:]...)
	delta := len(out) - len(o.Body)
	return Outbound{Model: model, Body: out,
		spans: bodySpans{modelStart: sp.modelStart, modelEnd: sp.modelEnd + delta, hasOpts: sp.hasOpts}}
}

// usageOption is inserted into a stream's body that holds no stream_options.
const usageOption = `"stream_options":{"include_usage":true}`

// withIncludeUsage returns o with stream_options.include_usage set to true,
// so that a streaming upstream reports usage. When the body holds no
// stream_options, they are inserted after the opening brace without another
// scan.
func (o Outbound) withIncludeUsage() (Outbound, error) {
	b := o.Body
	if !o.spans.hasOpts {
		i := bytes.IndexByte(b, '{')
		if i < 0 {
			return o, badRequest("gateway: request body must be a JSON object")
		}
		out := make([]byte, 0, len(b)+len(usageOption)+1)
		out = append(out, b[:i+1]...)
		out = append(out, usageOption...)
		shift := len(usageOption)
		if rest := bytes.TrimLeft(b[i+1:], " \t\r\n"); len(rest) > 0 && rest[0] != '}' {
			out = append(out, ',')
			shift++
		}
		out = append(out, b[i+1:]...)
		sp := o.spans
		sp.hasOpts = true
		if sp.modelEnd != 0 {
			sp.modelStart += shift
			sp.modelEnd += shift
		}
		return Outbound{Model: o.Model, Body: out, spans: sp}, nil
	}
	// Rare: stream_options present without include_usage. Rewrite it whole.
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return o, badRequest("gateway: invalid JSON")
	}
	var so map[string]json.RawMessage
	_ = json.Unmarshal(m["stream_options"], &so)
	if so == nil {
		so = map[string]json.RawMessage{}
	}
	so["include_usage"] = json.RawMessage("true")
	m["stream_options"], _ = json.Marshal(so)
	out, err := json.Marshal(m)
	if err != nil {
		return o, badRequest("gateway: invalid JSON")
	}
	return Outbound{Model: o.Model, Body: out}, nil
}
