package gateway

import "bytes"

// inspectMessagesEvent reads one event of an Anthropic Messages stream, as
// inspectChunk reads an OpenAI chunk: its usage (message_start's, under
// message, or message_delta's), the generated text of a delta (text,
// partial_json, thinking), whether it is content (a delta with text, a
// started tool_use or redacted_thinking block, a stop reason), an error
// event, or message_stop, the stream's end (end). It reports ok=false for
// anything that is not a JSON object.
func inspectMessagesEvent(b []byte) (info chunkInfo, end, ok bool) {
	s := jsonScanner{b: b, maxDepth: 64}
	var typ []byte
	contentBlock := false
	err := s.object(func(ks, ke int) error {
		switch {
		case s.key(ks, ke, keyType):
			if s.peek() != '"' {
				return s.value(nil)
			}
			start, end, _, err := s.str(nil)
			typ = s.b[start:end]
			return err
		case s.key(ks, ke, "usage"):
			return messagesUsageInto(&s, &info)
		case s.key(ks, ke, "message"):
			if s.peek() != '{' {
				return s.value(nil)
			}
			return s.object(func(ks, ke int) error {
				if s.key(ks, ke, "usage") {
					return messagesUsageInto(&s, &info)
				}
				return s.value(nil)
			})
		case s.key(ks, ke, "delta"), s.key(ks, ke, "content_block"):
			if s.peek() != '{' {
				return s.value(nil)
			}
			block := s.key(ks, ke, "content_block")
			return s.object(func(ks, ke int) error {
				switch {
				case s.key(ks, ke, "text"), s.key(ks, ke, "partial_json"), s.key(ks, ke, "thinking"):
					if s.peek() != '"' {
						return s.value(nil)
					}
					_, _, _, err := s.str(&info.text)
					return err
				case s.key(ks, ke, "stop_reason"):
					if s.peek() == '"' {
						info.content = true
					}
				case block && s.key(ks, ke, keyType):
					if s.peek() != '"' {
						return s.value(nil)
					}
					start, end, _, err := s.str(nil)
					contentBlock = isContentBlockType(s.b[start:end])
					return err
				}
				return s.value(nil)
			})
		}
		return s.value(nil)
	})
	switch {
	case bytes.Equal(typ, msgTypeError):
		info.isError = true
	case bytes.Equal(typ, msgTypeStop):
		end = true
	}
	if info.text.ascii+info.text.other > 0 || contentBlock {
		info.content = true
	}
	return info, end, err == nil
}

func messagesUsageInto(s *jsonScanner, info *chunkInfo) error {
	if s.peek() != '{' {
		return s.value(nil)
	}
	u, err := parseUsage(s)
	if err == nil {
		info.usage, info.hasUsage = maxUsage(info.usage, u), true
	}
	return err
}
