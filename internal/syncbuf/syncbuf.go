// Package syncbuf is for tests: a Buffer that collects what a process or a
// logger writes, safe for concurrent use, and signals each write, so a test
// can wait for a line without polling a clock.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer is an io.Writer safe for concurrent use. Its zero value is not
// usable: call New.
type Buffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

// New returns an empty Buffer.
func New() *Buffer { return &Buffer{changed: make(chan struct{}, 1)} }

// Write appends p and signals Changed.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case b.changed <- struct{}{}:
	default:
	}
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Changed receives after a write: one signal stands for every write since
// the last receive, so a waiter checks String after each.
func (b *Buffer) Changed() <-chan struct{} { return b.changed }
