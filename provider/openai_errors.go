package provider

import "strings"

// upstreamError is a failure to get a response from the upstream. Its text
// is the transport's with every secret removed; Unwrap returns the
// transport's error, so errors.Is and errors.As reach net and context
// errors.
type upstreamError struct {
	msg string
	err error
}

func (e *upstreamError) Error() string { return e.msg }
func (e *upstreamError) Unwrap() error { return e.err }

// transportError wraps err from the upstream transport. net/http's errors
// name the host but not the key; a custom transport, a proxy or a future
// net/http could say more, so the text is scrubbed rather than trusted.
func (p *OpenAI) transportError(err error) error {
	return &upstreamError{msg: "provider: " + p.name + ": " + p.scrub(err.Error()), err: err}
}

// scrub removes the key, sensitive header values and any URL query from s.
func (p *OpenAI) scrub(s string) string {
	for _, sec := range p.secrets {
		s = strings.ReplaceAll(s, sec, "[REDACTED]")
	}
	// A query follows '?' up to a space or quote ("…/chat?key=x": EOF).
	for i := 0; i < len(s); i++ {
		if s[i] != '?' {
			continue
		}
		j := i + 1
		for j < len(s) && s[j] != ' ' && s[j] != '"' && s[j] != '\'' && s[j] != ':' {
			j++
		}
		if j > i+1 {
			s = s[:i+1] + "[REDACTED]" + s[j:]
			i += len("[REDACTED]")
		}
	}
	return s
}
