package gateway

// Reading usage and completion text out of OpenAI responses.

// chunkInfo is what one response object (a stream chunk or a whole
// completion) says about usage and content.
type chunkInfo struct {
	usage    Usage
	hasUsage bool
	choices  int
	text     textCount // content the model produced
	// content: a choice carries content (isFirstContent); isError: the
	// object is an error report ({"error": non-null}).
	content, isError bool
}

// inspectChunk reads a chat/completion response object or stream chunk. It
// reports ok=false for anything that is not a JSON object.
//
// It is the one detector of content in the gateway: a chunk carries content
// when a choice holds a non-empty text, content, refusal, reasoning,
// reasoning_content or tool-call arguments string, a non-empty tool_calls or
// function_call (a tool call's first delta may carry only its id and name), or
// a finish_reason (the model's answer may end with no text at all). The
// attempt boundary holds a stream until the first such chunk; the usage tap
// counts the same text for estimates.
func inspectChunk(b []byte) (info chunkInfo, ok bool) {
	s := jsonScanner{b: b, maxDepth: 64}
	err := s.object(func(ks, ke int) error {
		switch {
		case s.key(ks, ke, "error"):
			if s.peek() == 'n' {
				return s.literal("null")
			}
			info.isError = true
			return s.value(nil)
		case s.key(ks, ke, "usage"):
			if s.peek() != '{' {
				return s.value(nil)
			}
			u, err := parseUsage(&s)
			info.usage, info.hasUsage = u, err == nil
			return err
		case s.key(ks, ke, "choices"):
			if s.peek() != '[' {
				return s.value(nil)
			}
			n, err := s.array(func() error { return contentText(&s, &info) })
			info.choices = n
			if info.text.ascii+info.text.other > 0 {
				info.content = true
			}
			return err
		}
		return s.value(nil)
	})
	return info, err == nil
}

// contentText consumes a value inside a choice, counting the strings held
// under the keys that carry generated text and noting content that is not
// text (a tool call, a finish_reason).
func contentText(s *jsonScanner, info *chunkInfo) error {
	switch s.peek() {
	case '{':
		return s.object(func(ks, ke int) error {
			k := s.b[ks:ke]
			switch {
			case s.peek() == '"' && isContentKey(k):
				_, _, _, err := s.str(&info.text)
				return err
			case s.peek() == '"' && string(k) == "finish_reason":
				start, end, _, err := s.str(nil)
				if end > start {
					info.content = true
				}
				return err
			case string(k) == "tool_calls" || string(k) == "function_call":
				if c := s.peek(); c == '[' || c == '{' {
					at := s.i
					if err := contentText(s, info); err != nil {
						return err
					}
					if nonEmptyContainer(s.b[at:s.i]) {
						info.content = true
					}
					return nil
				}
			}
			return contentText(s, info)
		})
	case '[':
		_, err := s.array(func() error { return contentText(s, info) })
		return err
	}
	return s.value(nil)
}

// nonEmptyContainer reports whether v, a JSON array or object, holds anything.
func nonEmptyContainer(v []byte) bool {
	for _, c := range v[1:] {
		switch c {
		case ' ', '\t', '\n', '\r':
		case ']', '}':
			return false
		default:
			return true
		}
	}
	return false
}

func isContentKey(k []byte) bool {
	switch string(k) {
	case "content", "text", "arguments", "refusal", "reasoning_content", "reasoning":
		return true
	}
	return false
}

// parseUsage consumes a usage object in OpenAI's shape, also reading the
// field names some compatible servers use instead.
func parseUsage(s *jsonScanner) (Usage, error) {
	var u Usage
	err := s.object(func(ks, ke int) error {
		switch {
		case s.key(ks, ke, "prompt_tokens"), s.key(ks, ke, "input_tokens"):
			return intInto(s, &u.PromptTokens)
		case s.key(ks, ke, "completion_tokens"), s.key(ks, ke, "output_tokens"):
			return intInto(s, &u.CompletionTokens)
		case s.key(ks, ke, "prompt_cache_hit_tokens"):
			return intInto(s, &u.CachedTokens)
		case s.key(ks, ke, "prompt_tokens_details"), s.key(ks, ke, "input_tokens_details"):
			if s.peek() != '{' {
				return s.value(nil)
			}
			return s.object(func(ks, ke int) error {
				if s.key(ks, ke, "cached_tokens") {
					return intInto(s, &u.CachedTokens)
				}
				return s.value(nil)
			})
		}
		return s.value(nil)
	})
	return u, err
}

func intInto(s *jsonScanner, dst *int) error {
	if s.peek() == 'n' {
		return s.literal("null")
	}
	v, ok, err := s.integer()
	if err != nil {
		return err
	}
	if ok && v >= 0 {
		*dst = v
	}
	return nil
}
