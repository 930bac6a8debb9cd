package anthropicwire

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Facts are what the gateway's entry point parsed from the caller's request
// (the Call, and the attempt's Outbound for the model): a translated request
// carries them as they are, whatever the body says.
type Facts struct {
	Model     string
	Stream    bool
	MaxTokens int // 0: unset (a request to Anthropic needs one: the provider's default)
}

// Error is a request the translation cannot express in the other format. Its
// message names what, and never quotes the request beyond a field name.
type Error struct{ Msg string }

func (e *Error) Error() string { return "anthropicwire: " + e.Msg }

func bad(msg string) error { return &Error{Msg: msg} }

// IsTranslationError reports whether err is a request the translation
// refused (a 400 for the caller).
func IsTranslationError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// isString reports whether raw is a JSON string.
func isString(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '"'
}

// mustJSON marshals v, whose types cannot fail to encode.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("anthropicwire: " + err.Error())
	}
	return b
}
