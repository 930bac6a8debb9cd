//go:build unix

package billing

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ErrDirInUse is returned by NewPipeline when another Pipeline (in this
// process or another) holds the directory: two writers would interleave
// their logs and delete each other's segments.
var ErrDirInUse = errors.New("billing: write-ahead directory is in use by another pipeline")

// lockDir takes an exclusive advisory lock on dir's lock file. The kernel
// drops it when the process dies, so a restart after SIGKILL gets it.
func lockDir(dir string) (unlock func() error, err error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("billing: write-ahead log: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrDirInUse
		}
		return nil, fmt.Errorf("billing: write-ahead log: %w", err)
	}
	return f.Close, nil
}
