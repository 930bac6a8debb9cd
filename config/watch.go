package config

import (
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchDebounce is how long a Watcher waits after the last event on its
// file before it reloads: an editor's save is a burst of events (write,
// chmod, or rename and create), and a half-written file is no reload.
const watchDebounce = 100 * time.Millisecond

// Watcher reloads a Gateway when its configuration file changes. It watches
// the file's directory, so an editor that replaces the file (writes a new
// one and renames it over the old) is seen too. Close stops it.
type Watcher struct {
	w    *fsnotify.Watcher
	done chan struct{}
	once sync.Once
}

// Watch starts a Watcher that, after each burst of changes to the file at
// path, loads it (lookupEnv as Load's) and hands it to gw.Reload, which
// logs and counts the outcome; a file that cannot be read is logged and
// counted as a refused reload too. It starts one goroutine; Close ends it.
func Watch(path string, lookupEnv func(string) (string, bool), gw *Gateway) (*Watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := fw.Add(filepath.Dir(path)); err != nil {
		fw.Close()
		return nil, err
	}
	w := &Watcher{w: fw, done: make(chan struct{})}
	go w.run(filepath.Clean(path), func() { ReloadFrom(path, lookupEnv, gw) }, gw.logger)
	return w, nil
}

// ReloadFrom loads the file at path and reloads gw with it: what a Watcher
// does on a change, and the main job on SIGHUP. A file that cannot be read
// is reported to gw's logger, ReloadStats and OnReload like any refused
// reload. It returns Reload's error.
func ReloadFrom(path string, lookupEnv func(string) (string, bool), gw *Gateway) error {
	f, err := Load(path, lookupEnv)
	if err != nil {
		err = errors.Join(ErrReloadRefused, err)
		gw.refused(path, err)
		return err
	}
	return gw.Reload(f)
}

func (w *Watcher) run(path string, reload func(), logger *slog.Logger) {
	defer close(w.done)
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	for {
		select {
		case ev, ok := <-w.w.Events:
			if !ok {
				return
			}
			if filepath.Clean(ev.Name) == path && !ev.Has(fsnotify.Chmod) {
				debounce.Reset(watchDebounce)
			}
		case err, ok := <-w.w.Errors:
			if !ok {
				return
			}
			logger.Warn("config: watching the configuration file", "error", err)
		case <-debounce.C:
			reload()
		}
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
