package config

import (
	"crypto/sha256"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchDebounce is how long a Watcher waits after the last event in its
// file's directory before it looks at the file: an editor's save is a
// burst of events (write, or rename and create), a ConfigMap update one
// more (a new directory, a symlink renamed over ..data), and a
// half-written file is no reload.
const watchDebounce = 100 * time.Millisecond

// watchMaxWait bounds how long a burst can put the look off: while the
// file is a symlink every event in its directory counts, the directory may
// hold files written all the time (a usage file), and a change must not
// wait for them to go quiet.
const watchMaxWait = time.Second

// Watcher reloads a Gateway when its configuration file changes. It watches
// the file's directory, not the file, so what replaces the file is seen: an
// editor that renames a new file over it, or a Kubernetes ConfigMap update,
// which swaps the ..data symlink the file resolves through and names no
// event after the file. A change that names the file, or any change in the
// directory while the file is a symlink, makes it read the file (through
// its symlinks); other files written there (the usage file, by default)
// make it read nothing. It reloads only when the bytes differ from those it
// last read. Close stops it.
type Watcher struct {
	w    *fsnotify.Watcher
	done chan struct{}
	once sync.Once
}

// Watch starts a Watcher that, after each burst of changes in the
// directory of the file at path that concern the file (see Watcher), reads
// the file and, when its content differs from what it last read, parses it
// (lookupEnv as Load's) and hands it to gw.Reload, which logs and counts
// the outcome; a file that cannot be read or parsed is logged and counted
// as a refused reload too, once until it changes again. The content at the
// time Watch is called counts as loaded: call it right after Load, and use
// ReloadFrom for what changed in between or for a change of the environment
// alone. It starts one goroutine; Close ends it.
func Watch(path string, lookupEnv func(string) (string, bool), gw *Gateway) (*Watcher, error) {
	return watch(path, lookupEnv, gw, nil)
}

// watch is Watch; checked, when set, is told after each look at the file
// whether it reloaded, on the Watcher's goroutine (tests wait on it).
func watch(path string, lookupEnv func(string) (string, bool), gw *Gateway, checked func(reloaded bool)) (*Watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := fw.Add(filepath.Dir(path)); err != nil {
		fw.Close()
		return nil, err
	}
	c := &fileCheck{path: path, name: filepath.Base(path), lookupEnv: lookupEnv, gw: gw}
	c.last, _ = c.read()
	w := &Watcher{w: fw, done: make(chan struct{})}
	go w.run(c, checked, gw.logger)
	return w, nil
}

// ReloadFrom loads the file at path and reloads gw with it: what the main
// job does on SIGHUP. A file that cannot be read is reported to gw's
// logger, ReloadStats and OnReload like any refused reload. It returns
// Reload's error (ErrClosed after Close, whatever the file).
func ReloadFrom(path string, lookupEnv func(string) (string, bool), gw *Gateway) error {
	f, err := Load(path, lookupEnv)
	return reloadLoaded(gw, path, f, err)
}

// reloadLoaded reloads gw with f, or reports loadErr, the error of loading
// the file at path, as a refused reload.
func reloadLoaded(gw *Gateway, path string, f *File, loadErr error) error {
	if loadErr != nil {
		return gw.refuse(path, errors.Join(ErrReloadRefused, loadErr))
	}
	return gw.Reload(f)
}

// fileState is what a Watcher remembers of its file: a hash of its bytes,
// or why it could not be read. Equal states are the same content.
type fileState struct {
	sum        [sha256.Size]byte
	unreadable string
}

// readFileState reads the file at path, following its symlinks. data is
// nil when it cannot be read.
func readFileState(path string) (st fileState, data []byte) {
	data, err := os.ReadFile(path)
	if err != nil {
		return fileState{unreadable: err.Error()}, nil
	}
	return fileState{sum: sha256.Sum256(data)}, data
}

// fileCheck reloads a gateway when its file's content changes. Only the
// Watcher's goroutine uses it.
type fileCheck struct {
	path      string
	name      string // path's last element
	lookupEnv func(string) (string, bool)
	gw        *Gateway
	last      fileState
	linked    bool // path was a symlink when last read
}

// read reads the file as readFileState does, and notes whether path is a
// symlink.
func (c *fileCheck) read() (fileState, []byte) {
	fi, err := os.Lstat(c.path)
	c.linked = err == nil && fi.Mode()&os.ModeSymlink != 0
	return readFileState(c.path)
}

// concerns reports whether an event naming name in the file's directory
// may have changed what the file reads: one naming the file (written,
// replaced, removed; in any case, for a case-insensitive file system, which
// names events as the directory spells the file), or any while the file is
// a symlink, whose target (a ConfigMap's ..data, another file) an event
// never names as the file. One too many costs a read, not a reload.
func (c *fileCheck) concerns(name string) bool {
	return c.linked || strings.EqualFold(filepath.Base(name), c.name)
}

// reloadIfChanged reads the file and reloads (or reports it refused) when
// its state differs from the last one; it says whether it did. The bytes
// hashed are the bytes parsed, so what is remembered is what was loaded.
func (c *fileCheck) reloadIfChanged() bool {
	st, data := c.read()
	if st == c.last {
		return false
	}
	c.last = st
	if data == nil {
		// Load owns the wording of a file it cannot read; if the file has
		// come back since, its event brings another look.
		_ = ReloadFrom(c.path, c.lookupEnv, c.gw)
		return true
	}
	f, err := Parse(c.path, data, c.lookupEnv)
	_ = reloadLoaded(c.gw, c.path, f, err)
	return true
}

// debounceDelay is how long to wait, at now, before looking at the file for
// a burst whose first event came at first.
func debounceDelay(first, now time.Time) time.Duration {
	return max(0, min(watchDebounce, first.Add(watchMaxWait).Sub(now)))
}

func (w *Watcher) run(c *fileCheck, checked func(bool), logger *slog.Logger) {
	defer close(w.done)
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	var burstStart time.Time // zero: no burst pending
	for {
		select {
		case ev, ok := <-w.w.Events:
			if !ok {
				return
			}
			if ev.Op&^fsnotify.Chmod == 0 || !c.concerns(ev.Name) {
				continue // a mode change alone changes no content; another file's, none of the file's
			}
		case err, ok := <-w.w.Errors:
			if !ok {
				return
			}
			// An overflow loses events, maybe the file's: look at it anyway.
			logger.Warn("config: watching the configuration file", "error", err)
		case <-debounce.C:
			burstStart = time.Time{}
			reloaded := c.reloadIfChanged()
			if checked != nil {
				checked(reloaded)
			}
			continue
		}
		now := time.Now()
		if burstStart.IsZero() {
			burstStart = now
		}
		debounce.Reset(debounceDelay(burstStart, now))
	}
}

// Close stops the Watcher and waits for its goroutine (and a reload it
// is running) to end.
func (w *Watcher) Close() error {
	var err error
	w.once.Do(func() {
		err = w.w.Close()
		<-w.done
	})
	return err
}
