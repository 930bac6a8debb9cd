package config

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The logging section's mistakes are reported at their keys, with the rest.
func TestLoggingConfigMistakes(t *testing.T) {
	err := checkConfig(okProviders+"logging: {level: loud, format: xml}\n", env{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `t.yaml:5: logging.level: unknown level "loud"`)
	assert.Contains(t, err.Error(), `t.yaml:5: logging.format: unknown format "xml"`)
	require.NoError(t, checkConfig(okProviders+"logging: {level: debug, format: json}\n", env{}))
}

// NewLogger writes the format and from the level the section asks for,
// every value bounded in either format.
func TestNewLoggerFormatAndLevel(t *testing.T) {
	var out bytes.Buffer
	logger, closeLogs := NewLogger(&out, Logging{Level: "warn", Format: "json"})
	logger.Info("dropped")
	logger.Warn("kept", "model", strings.Repeat("m", 10_000))
	require.NoError(t, closeLogs())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 1, "info is below warn")
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &rec))
	assert.Equal(t, "kept", rec["msg"])
	assert.Less(t, len(rec["model"].(string)), 1000, "a value is bounded")

	out.Reset()
	logger, closeLogs = NewLogger(&out, Logging{})
	logger.Debug("dropped")
	logger.Info("kept", "n", 1)
	require.NoError(t, closeLogs())
	assert.Regexp(t, `^time=\S+ level=INFO msg=kept n=1\n$`, out.String(), "text at info by default")
}
