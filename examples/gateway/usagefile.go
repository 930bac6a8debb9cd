package main

import (
	"encoding/json"
	"errors"
	"os"
	"sync"

	"github.com/llmgate/gateway/billing"
)

// ---------------------------------------------------------------------------
// STAND-IN for the billing pipeline (issue 11, part B). newUsageRecorder is
// the ONE function to swap for billing's Pipeline once it lands: everything
// else asks it for the Recorder the Meter hands records to.
// ---------------------------------------------------------------------------

// newUsageRecorder returns the Recorder of the main job: each record as one
// JSON line appended to f.
func newUsageRecorder(f *usageFile) billing.Recorder { return f }

// usageFile appends records as JSON lines to a file it opens at the first
// record (so that -check creates nothing). It writes under a lock, one write
// per record, on the goroutine that ended the call: a stand-in, not the
// pipeline, which takes records off that path. Safe for concurrent use.
type usageFile struct {
	path string

	mu     sync.Mutex
	f      *os.File
	err    error
	closed bool
}

func newUsageFile(path string) *usageFile { return &usageFile{path: path} }

// Enqueue implements billing.Recorder.
func (u *usageFile) Enqueue(r billing.Record) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return errUsageClosed
	}
	if u.f == nil && u.err == nil {
		u.f, u.err = os.OpenFile(u.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	}
	if u.err != nil {
		return u.err
	}
	_, err = u.f.Write(line)
	return err
}

// Close closes the file; later records are refused.
func (u *usageFile) Close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.closed = true
	if u.f == nil {
		return nil
	}
	return u.f.Close()
}

var errUsageClosed = errors.New("gateway: usage file closed")
