package gateway

import "fmt"

// Limits bound what a request body may hold, and how many request bytes a
// server-mode handler holds at once. A zero field takes its default; a
// negative one is a configuration error (Validate; NewHandler and NewClient
// panic on one).
type Limits struct {
	MaxBodyBytes int64 // default 10 MiB; larger bodies get 413 before parsing
	MaxDepth     int   // JSON nesting; default 64
	MaxMessages  int   // chat messages, prompts or embedding inputs; default 4096
	MaxTokens    int   // largest max_tokens accepted; default 1,048,576

	// MaxBodyBytesInFlight bounds the request bodies one NewHandler holds at
	// once, from the first byte read until the handler returns: default 256
	// MiB, and more than twice MaxBodyBytes. Memory is held as bytes arrive
	// (a request that announces 10 MiB and sends nothing holds 16 KiB), so
	// this counts what the handler has allocated to read bodies: the
	// buffers a body arrives in and, while it is copied out of them, the
	// body itself (twice its size for that moment). The copies a call makes
	// later (a stream's usage option, a rename per target) are not counted.
	// A request that would go over it gets 503 server_overloaded with
	// Retry-After: 1. NewClient ignores it: its bodies are the caller's own.
	MaxBodyBytesInFlight int64
}

// The defaults of Limits.
const (
	defaultMaxBodyBytes         = 10 << 20
	defaultMaxDepth             = 64
	defaultMaxMessages          = 4096
	defaultMaxTokens            = 1 << 20
	defaultMaxBodyBytesInFlight = 256 << 20
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
	if l.MaxBodyBytesInFlight == 0 {
		l.MaxBodyBytesInFlight = defaultMaxBodyBytesInFlight
	}
	return l
}

// Validate reports a negative limit, and a MaxBodyBytesInFlight (after
// defaults) that does not exceed MaxBodyBytes, which would refuse every body
// of the largest size allowed. Zero fields are valid: they take their
// defaults.
func (l Limits) Validate() error {
	if l.MaxBodyBytes < 0 || l.MaxDepth < 0 || l.MaxMessages < 0 || l.MaxTokens < 0 || l.MaxBodyBytesInFlight < 0 {
		return fmt.Errorf("gateway: negative limit in %+v", l)
	}
	if d := l.withDefaults(); d.MaxBodyBytesInFlight <= 2*d.MaxBodyBytes {
		return fmt.Errorf("gateway: MaxBodyBytesInFlight %d is not over twice MaxBodyBytes %d: no body of the largest size would fit while it is copied",
			d.MaxBodyBytesInFlight, d.MaxBodyBytes)
	}
	return nil
}
