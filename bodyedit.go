package gateway

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Edits of a request body that providers and the router make on the way
// upstream. Each returns a new slice and leaves its input untouched, since a
// Call's Body is shared by every attempt.

// BodyForModel returns the call's body with its model replaced by model, or
// the body itself when the model is unchanged. It reuses the position found
// by ParseCall, so it does not scan the body again.
func (c *Call) BodyForModel(model string) []byte {
	if model == c.Model || c.modelEnd == 0 {
		return c.Body
	}
	out := make([]byte, 0, len(c.Body)+len(model)+2)
	out = append(out, c.Body[:c.modelStart]...)
	out = appendJSONString(out, model)
	return append(out, c.Body[c.modelEnd:]...)
}

// ReplaceModel returns body with its top-level "model" replaced by model.
func ReplaceModel(body []byte, model string) ([]byte, error) {
	c, err := ParseCall(OpChat, body, Limits{})
	if err != nil {
		return nil, err
	}
	return c.BodyForModel(model), nil
}

// ForceIncludeUsage returns body with stream_options.include_usage set to
// true, so a streaming upstream reports usage. It returns body itself when
// the flag is already set.
func ForceIncludeUsage(body []byte) ([]byte, error) {
	c, err := ParseCall(OpChat, body, Limits{})
	if err != nil {
		return nil, err
	}
	return c.BodyWithUsage()
}

// BodyWithUsage is ForceIncludeUsage for the call's own body (or a body
// derived from it by BodyForModel): when the caller sent no stream_options it
// inserts them without scanning again.
func (c *Call) BodyWithUsage() ([]byte, error) { return c.bodyWithUsage(c.Body) }

// BodyForUpstream returns the body to send upstream for model: renamed when
// model differs from the asked one, and, for a stream, with usage reporting
// forced on. Providers call it once per attempt.
func (c *Call) BodyForUpstream(model string) ([]byte, error) {
	b := c.BodyForModel(model)
	if !c.Stream {
		return b, nil
	}
	return c.bodyWithUsage(b)
}

func (c *Call) bodyWithUsage(b []byte) ([]byte, error) {
	if c.IncludeUsage {
		return b, nil
	}
	if !c.hasOpts {
		i := 0
		for i < len(b) && b[i] != '{' {
			i++
		}
		const opts = `"stream_options":{"include_usage":true}`
		out := make([]byte, 0, len(b)+len(opts)+1)
		out = append(out, b[:i+1]...)
		out = append(out, opts...)
		if rest := bytes.TrimLeft(b[i+1:], " \t\r\n"); len(rest) > 0 && rest[0] != '}' {
			out = append(out, ',')
		}
		return append(out, b[i+1:]...), nil
	}
	// Rare: stream_options present without include_usage. Rewrite it whole.
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, badRequest("gateway: invalid JSON")
	}
	var so map[string]json.RawMessage
	_ = json.Unmarshal(m["stream_options"], &so)
	if so == nil {
		so = map[string]json.RawMessage{}
	}
	so["include_usage"] = json.RawMessage("true")
	m["stream_options"], _ = json.Marshal(so)
	return json.Marshal(m)
}

// appendJSONString appends s as a JSON string literal.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
