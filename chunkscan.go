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
// counts the same text for estimates. A Responses API event is read by its
// type (responsesEvent).
func inspectChunk(b []byte) (info chunkInfo, ok bool) {
	s := jsonScanner{b: b, maxDepth: 64}
	var ev responsesEvent
	err := s.object(func(ks, ke int) error {
		if n := ke - ks; n == 4 || n == 5 || n == 8 { // type, delta, response
			if handled, err := ev.member(&s, ks, ke, &info); handled {
				return err
			}
		}
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
	ev.settle(&info)
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
// field names some compatible servers use instead (usageSlot).
func parseUsage(s *jsonScanner) (Usage, error) {
	var u Usage
	err := s.object(func(ks, ke int) error {
		k := s.b[ks:ke]
		if d := usageDetails(k); d != 0 {
			if s.peek() != '{' {
				return s.value(nil)
			}
			return s.object(func(ks, ke int) error {
				if dst := usageSlot(&u, d, s.b[ks:ke]); dst != nil {
					return intInto(s, dst)
				}
				return s.value(nil)
			})
		}
		if dst := usageSlot(&u, 0, k); dst != nil {
			return intInto(s, dst)
		}
		return s.value(nil)
	})
	return u, err
}

// usageDetails names the kind of a usage details object: 'p' for the
// prompt's, 'c' for the completion's, 0 for any other key.
func usageDetails(k []byte) byte {
	switch string(k) {
	case "prompt_tokens_details", "input_tokens_details":
		return 'p'
	case "completion_tokens_details", "output_tokens_details":
		return 'c'
	case "cache_creation": // Anthropic's cache writes by lifetime
		return 'w'
	}
	return 0
}

// usageSlot is the one list of the usage field names the gateway reads: the
// field of u that key k names at the top of a usage object (details 0) or
// inside a details object of that kind, or nil. Both usage readers (the
// stream scanner above and bodyLexer) ask it.
//
// Besides OpenAI's own names it reads DeepSeek's prompt_cache_hit_tokens,
// the Responses API's input/output names, and Anthropic's cache names, which
// adapters and OpenAI-compatible proxies put in OpenAI-shaped usage to carry
// cache writes, a fact OpenAI's format has no field for:
// cache_creation_input_tokens and cache_read_input_tokens at the top (with
// cache_creation.ephemeral_1h_input_tokens in Anthropic's own answers), or
// cache_write_tokens and cache_write_1h_tokens in prompt_tokens_details.
func usageSlot(u *Usage, details byte, k []byte) *int {
	switch details {
	case 0:
		switch string(k) {
		case "prompt_tokens", "input_tokens":
			return &u.PromptTokens
		case "completion_tokens", "output_tokens":
			return &u.CompletionTokens
		case "prompt_cache_hit_tokens", "cache_read_input_tokens":
			return &u.CachedTokens
		case "cache_creation_input_tokens":
			return &u.CacheWriteTokens
		}
	case 'p':
		switch string(k) {
		case "cached_tokens":
			return &u.CachedTokens
		case "cache_write_tokens":
			return &u.CacheWriteTokens
		case "cache_write_1h_tokens":
			return &u.CacheWrite1hTokens
		}
	case 'c':
		if string(k) == "reasoning_tokens" {
			return &u.ReasoningTokens
		}
	case 'w':
		if string(k) == "ephemeral_1h_input_tokens" {
			return &u.CacheWrite1hTokens
		}
	}
	return nil
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
