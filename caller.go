package gateway

import (
	"context"
	"strings"
)

// Caller says who is calling. It is set by authentication (in server mode) or
// by the application (in client mode, with WithCaller) and never holds a
// secret: KeyID names a key, it is not the key.
//
// A Caller is a value carried by every call of its key; the slices and maps
// it holds are shared by those calls and must be read, never written.
type Caller struct {
	KeyID  string
	Tenant string
	// Priority is the caller's priority group: PriorityCore (1),
	// PriorityRealtime (2) or PriorityBatch (3). Zero is read as
	// PriorityBatch, so a caller nobody classified is shed first.
	Priority int
	// Models the caller may use; empty means any. An entry may end in "*"
	// to allow every model with that prefix (see Allows). The attempt
	// boundary applies it to the model each attempt sends (OutboundFrom),
	// not only the one asked.
	Models []string
	// Limits overrides, for this caller, the limit of the limiter's rules,
	// by rule name, in each rule's own unit. Nil means the rules' own.
	Limits map[string]int64
	// Budget is the caller's own spending cap; a zero Limit means the key
	// has none of its own (budgets configured for its tenant still apply).
	Budget Budget
}

// The priority groups, most important first.
const (
	PriorityCore     = 1 // calls the business cannot do without
	PriorityRealtime = 2 // interactive calls a person waits for
	PriorityBatch    = 3 // everything else; shed first under saturation
)

// Group returns the caller's priority group, reading 0 or any value out of
// range as PriorityBatch.
func (c Caller) Group() int {
	if c.Priority < PriorityCore || c.Priority > PriorityBatch {
		return PriorityBatch
	}
	return c.Priority
}

// Allows reports whether the caller may use model: Models is empty, or an
// entry equals model, or an entry ending in "*" is a prefix of it ("*" alone
// allows every model). It is the one reading of Models; the attempt boundary
// applies it to the model each attempt sends, after every rename (an alias,
// a router's model map, a fallback to another target), and refuses a
// disallowed attempt with ErrModelNotAllowed before it reaches the provider.
func (c Caller) Allows(model string) bool {
	if len(c.Models) == 0 {
		return true
	}
	for _, m := range c.Models {
		if prefix, wild := strings.CutSuffix(m, "*"); wild {
			if strings.HasPrefix(model, prefix) {
				return true
			}
		} else if m == model {
			return true
		}
	}
	return false
}

// Budget is a spending cap: at most Limit nano-dollars (1e-9 USD) in each
// Period. Period is "day" or "month" (calendar periods, in the time zone the
// budget's owner configures) or "" for a cap that never resets.
type Budget struct {
	Limit  int64  `json:"limit"`
	Period string `json:"period,omitempty"`
}

type callerKey struct{}

// WithCaller returns a copy of ctx that tells the entry point who is calling,
// for client mode, where no authentication middleware sets the Call's Caller.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}
