package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// -check opens nothing: no JSONL file, no spill directory, for a
// configuration or the embedded default.
func TestBillingCheckCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gateway.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(okProviders+`
billing:
  sinks: {jsonl: {path: `+dir+`/usage.jsonl}}
  spill_dir: `+dir+`/wal
`), 0o600))
	var out, errOut strings.Builder
	require.Equal(t, 0, run(context.Background(), []string{"-check", "-config", cfg}, &out, &errOut), errOut.String())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only the configuration")

	old := usageFile
	usageFile = filepath.Join(t.TempDir(), "llmgate-usage.jsonl")
	t.Cleanup(func() { usageFile = old })
	require.Equal(t, 0, run(context.Background(), []string{"-check"}, &out, &errOut), errOut.String())
	entries, err = os.ReadDir(filepath.Dir(usageFile))
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// Two gateways given one spill directory: the second stops at start with a
// clear error (status 1) and leaves the first one's files alone.
func TestBillingSpillDirInUseStopsTheSecondInstance(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, "gateway.yaml", okProviders+`
billing:
  sinks: {jsonl: {path: `+dir+`/usage.jsonl}}
`)
	g := startGateway(t, "-config", cfg, "-addr", "127.0.0.1:0")
	assert.Contains(t, g.stdout.String(), "usage records: "+dir+"/usage.jsonl\n")
	assert.Contains(t, g.stdout.String(), "usage write-ahead log: "+dir+"/usage.wal (replayed at start)\n", "beside the JSONL file by default")
	client := sdk(t, g.base, "any")
	_, err := client.Chat.Completions.New(context.Background(), chatParams)
	require.NoError(t, err)

	var out, errOut strings.Builder
	require.Equal(t, 1, run(context.Background(), []string{"-config", cfg, "-addr", "127.0.0.1:0"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "billing.spill_dir "+dir+"/usage.wal is in use by another gateway")
	assert.NotContains(t, out.String(), "listening on")

	require.Equal(t, 0, g.stop())
	assert.Len(t, readRecords(t, dir+"/usage.jsonl"), 1, "the first one's record, once")
}

// A ledger that cannot be opened stops the start (status 1) with its
// reason and no password; the pipeline it had opened is closed again, so
// the spill directory is free for the next try.
func TestBillingUnreachableLedgerStopsTheStart(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, "gateway.yaml", okProviders+`
billing:
  sinks:
    jsonl: {path: `+dir+`/usage.jsonl}
    postgres: {dsn: "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=2"}
`)
	for range 2 {
		var out, errOut strings.Builder
		require.Equal(t, 1, run(context.Background(), []string{"-config", cfg, "-addr", "127.0.0.1:0"}, &out, &errOut))
		assert.Contains(t, errOut.String(), "gateway: cannot open the usage ledger: ")
		assert.NotContains(t, errOut.String(), "in use by another gateway")
		assert.NotContains(t, errOut.String(), "hunter2")
	}
}
