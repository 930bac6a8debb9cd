package config

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

type stringer string

func (s stringer) String() string { return string(s) }

// Every value a bounded logger writes is cut to maxLogValue bytes, on a rune
// boundary, and the cut is marked with how much was left out: strings,
// errors, Stringers, attributes added with With and in groups, and the
// message itself.
func TestBoundedLoggerCutsEveryValue(t *testing.T) {
	big := strings.Repeat("é", maxLogValue) // 2 bytes a rune: the cut falls inside one
	var buf bytes.Buffer
	logger := slog.New(boundedHandler(slog.NewTextHandler(&buf, nil))).With("with", big)
	logger.Info(big, "s", big, "err", errors.New(big), "str", stringer(big), slog.Group("g", "in", big), "n", 42, "short", "ok")

	line := buf.String()
	assert.Less(t, len(line), 8*maxLogValue, "the line is bounded")
	mark := "…[+" // followed by the bytes left out
	assert.Equal(t, 6, strings.Count(line, mark), line)
	assert.Contains(t, line, "n=42")
	assert.Contains(t, line, "short=ok")
	assert.NotContains(t, line, "\\x", "never cut inside a rune")
}

func TestClipLogValue(t *testing.T) {
	assert.Equal(t, "short", clipLogValue("short"))
	s := strings.Repeat("a", maxLogValue+10)
	assert.Equal(t, strings.Repeat("a", maxLogValue)+"…[+10 bytes]", clipLogValue(s))
	assert.Equal(t, s[:maxLogValue], clipLogValue(s[:maxLogValue]))
}
