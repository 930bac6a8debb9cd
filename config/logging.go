package config

import (
	"io"
	"log/slog"
	"strings"
)

// Logging is the logging section: the level and format of the lines
// NewLogger's logger writes (the access log's one line per call, and the
// gateway's own). Both need a restart to change.
type Logging struct {
	Level  string `yaml:"level"`  // debug | info (default) | warn | error
	Format string `yaml:"format"` // text (default) | json
}

// Logging formats.
const (
	formatText = "text"
	formatJSON = "json"
)

// NewLogger returns the logger l asks for, writing to w, and the Close that
// flushes it: lines go to w from one goroutine of its own, off the calls'
// path, so w need not be safe for concurrent use; Close writes what is
// queued and stops it. Every value is bounded (no line grows with what a
// caller sends). A value Build would refuse falls back to its default here:
// call Build, which reports it, before trusting the logger.
func NewLogger(w io.Writer, l Logging) (*slog.Logger, func() error) {
	lw := newLogWriter(w)
	level := parseLevel(l.Level)
	var h slog.Handler
	if strings.ToLower(l.Format) == formatJSON {
		h = boundedHandler(slog.NewJSONHandler(lw, &slog.HandlerOptions{Level: level}))
	} else {
		h = newLogHandler(lw, level)
	}
	return slog.New(h), lw.Close
}

var levels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

// parseLevel is the level s names, LevelInfo for the rest.
func parseLevel(s string) slog.Level { return levels[strings.ToLower(s)] }

// logging checks the logging section.
func (c *checker) logging(l Logging) {
	if _, ok := levels[strings.ToLower(l.Level)]; l.Level != "" && !ok {
		c.fail("logging.level", "unknown level %q (want debug, info, warn or error)", l.Level)
	}
	if f := strings.ToLower(l.Format); f != "" && f != formatText && f != formatJSON {
		c.fail("logging.format", "unknown format %q (want text or json)", l.Format)
	}
}
