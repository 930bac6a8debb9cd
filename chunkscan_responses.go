package gateway

import "bytes"

// responsesEvent is what inspectChunk reads of a Responses API stream event,
// {"type":"response.output_text.delta","delta":"…",…}, whose grammar is not
// the chat chunks': the model's text and arguments come in "*.delta" events,
// the answer ends with response.completed (or response.incomplete, cut by a
// limit) holding the usage at response.usage, and a failure is an "error" or
// a response.failed event. A chat chunk has none of these keys at its top.
type responsesEvent struct {
	typ   []byte    // the type's value, when it is a plain string
	delta textCount // the text of a string "delta"
}

// member reads the key at [ks,ke) of a stream event's top-level object when
// it is one of the Responses event's (type, delta, response), and reports
// whether it did.
func (ev *responsesEvent) member(s *jsonScanner, ks, ke int, info *chunkInfo) (bool, error) {
	switch {
	case s.key(ks, ke, "type") && s.peek() == '"':
		start, end, esc, err := s.str(nil)
		if err == nil && !esc {
			ev.typ = s.b[start:end]
		}
		return true, err
	case s.key(ks, ke, "delta") && s.peek() == '"':
		_, _, _, err := s.str(&ev.delta)
		return true, err
	case s.key(ks, ke, "response") && s.peek() == '{':
		// The response object of response.created, .completed, .failed…:
		// only its usage is read here.
		return true, s.object(func(ks, ke int) error {
			if s.key(ks, ke, "usage") && s.peek() == '{' {
				u, err := parseUsage(s)
				info.usage, info.hasUsage = u, err == nil
				return err
			}
			return s.value(nil)
		})
	}
	return false, nil
}

// settle records what the event means once its object has been read: its
// delta text is content, its end is content (the answer is complete, even
// an empty one), its failure an error.
func (ev *responsesEvent) settle(info *chunkInfo) {
	t := ev.typ
	switch {
	case t == nil:
	case string(t) == "error" || string(t) == "response.failed":
		info.isError = true
	case string(t) == "response.completed" || string(t) == "response.incomplete":
		info.content = true
	case bytes.HasPrefix(t, responsesPrefix) && bytes.HasSuffix(t, deltaSuffix):
		if ev.delta.ascii+ev.delta.other > 0 {
			info.content = true
			info.text.ascii += ev.delta.ascii
			info.text.other += ev.delta.other
		}
	}
}

var (
	responsesPrefix = []byte("response.")
	deltaSuffix     = []byte(".delta")
)
