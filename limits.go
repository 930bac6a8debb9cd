package gateway

import "fmt"

// Limits bound what a request body may hold. A zero field takes its default;
// a negative one is a configuration error (Validate; NewHandler and
// NewClient panic on one).
type Limits struct {
	MaxBodyBytes int64 // default 10 MiB; larger bodies get 413 before parsing
	MaxDepth     int   // JSON nesting; default 64
	MaxMessages  int   // chat messages, prompts or embedding inputs; default 4096
	MaxTokens    int   // largest max_tokens accepted; default 1,048,576
}

// The defaults of Limits.
const (
	defaultMaxBodyBytes = 10 << 20
	defaultMaxDepth     = 64
	defaultMaxMessages  = 4096
	defaultMaxTokens    = 1 << 20
)

func (l Limits) withDefaults() Limits {
	if l.MaxBodyBytes == 0 {
		l.MaxBodyBytes = defaultMaxBodyBytes
	}
	if l.MaxDepth == 0 {
		l.MaxDepth = defaultMaxDepth
	}
	if l.MaxMessages == 0 {
		l.MaxMessages = defaultMaxMessages
	}
	if l.MaxTokens == 0 {
		l.MaxTokens = defaultMaxTokens
	}
	return l
}

// Validate reports a negative limit. Zero fields are valid: they take their
// defaults.
func (l Limits) Validate() error {
	if l.MaxBodyBytes < 0 || l.MaxDepth < 0 || l.MaxMessages < 0 || l.MaxTokens < 0 {
		return fmt.Errorf("gateway: negative limit in %+v", l)
	}
	return nil
}
