// Package ctxbody holds the response body that releases an attempt's context
// when the caller is done with it, for the layers of this module that give an
// attempt a context of its own (a hedge, a first-token timer).
package ctxbody

import (
	"context"
	"io"
)

// CancelOnClose is a response body whose Close also cancels the context the
// response was obtained under, with context.Canceled as its cause. Close may
// be called concurrently with Read, and more than once.
type CancelOnClose struct {
	io.ReadCloser
	Cancel context.CancelCauseFunc
}

// Close closes the body, then cancels the context.
func (b *CancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.Cancel(context.Canceled)
	return err
}
