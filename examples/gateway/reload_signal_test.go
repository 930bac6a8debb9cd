package main

import (
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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

// A real SIGHUP to the process reloads the main job's file: the signal is
// registered as main registers it, before the job starts.
func TestRunReloadsOnARealSIGHUP(t *testing.T) {
	signal.Notify(hups, syscall.SIGHUP)
	defer signal.Stop(hups)
	path := writeFile(t, "gateway.yaml", okProviders)
	g := startGateway(t, "-config", path, "-addr", "127.0.0.1:0")
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP)) // the file is unchanged: no watcher reloads it
	require.Eventually(t, func() bool {
		out := g.stderr.String()
		at := strings.Index(out, "SIGHUP: reloading the configuration")
		return at >= 0 && strings.Contains(out[at:], "config: reloaded")
	}, 10*time.Second, 5*time.Millisecond, "SIGHUP reloaded the file; stderr:\n%s", g.stderr)
	assert.Equal(t, 0, g.stop(), g.stderr.String())
}
