package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/config"
)

// SIGHUP's reload: the file is loaded again and applied; without a file
// (the embedded default) it says there is nothing to reload.
func TestReloadOnSignal(t *testing.T) {
	path := writeFile(t, "gateway.yaml", okProviders)
	f, err := config.Load(path, func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	logs := newSyncBuffer()
	logger, closeLogs := config.NewLogger(logs, f.Logging)
	gw, err := config.Build(f, config.Options{Logger: logger, UsageFile: filepath.Join(t.TempDir(), "u.jsonl")})
	require.NoError(t, err)
	defer gw.Close()

	require.NoError(t, os.WriteFile(path, []byte(okProviders+"  - name: b\n    type: sim\n"), 0o600))
	reloadOnSignal(path, gw, logger)
	assert.Equal(t, []string{"a", "b"}, gw.Targets())
	reloadOnSignal("", gw, logger)
	require.NoError(t, closeLogs())
	assert.Equal(t, config.ReloadStats{Applied: 1}, gw.ReloadStats())
	assert.Contains(t, logs.String(), "SIGHUP: nothing to reload")
}
