package gateway

import "context"

// Caller says who is calling. It is set by authentication (in server mode) or
// by the application (in client mode, with WithCaller) and never holds a
// secret: KeyID names a key, it is not the key.
type Caller struct {
	KeyID    string
	Tenant   string
	Priority int
	// Models the caller may use; empty means any. An authorization check
	// must apply it to the model each attempt sends (OutboundFrom), not only
	// the one asked.
	Models []string
}

type callerKey struct{}

// WithCaller returns a copy of ctx that tells the entry point who is calling,
// for client mode, where no authentication middleware sets the Call's Caller.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}
