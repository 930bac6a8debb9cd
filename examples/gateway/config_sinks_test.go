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

// Every mistake of billing.sinks, billing.spill_dir and billing.pipeline is
// reported at its key, all at once.
func TestBillingSinksConfigMistakes(t *testing.T) {
	const yaml = `providers:
  - {name: s, type: sim}
billing:
  sinks:
    jsonl: {path: /nonexistent/dir/u.jsonl, max_bytes: 0}
    postgres: {schema: Bad-Schema, table: "x y"}
  spill_dir: /nonexistent/wal
  pipeline:
    buffer: -1
    batch_size: 0
    flush_interval: -1s
    block_timeout: 0s
    write_timeout: -2s
    retry_attempts: 0
`
	err := checkConfig(yaml, env{})
	require.Error(t, err)
	for _, want := range []string{
		`t.yaml:5: billing.sinks.jsonl.path: its directory "/nonexistent/dir" does not exist`,
		"t.yaml:5: billing.sinks.jsonl.max_bytes: must be positive (leave it out for the default)",
		"t.yaml:6: billing.sinks.postgres.dsn: is required",
		`t.yaml:6: billing.sinks.postgres: billing: PostgresConfig.Schema "Bad-Schema" is not`,
		`t.yaml:6: billing.sinks.postgres: billing: PostgresConfig.Table "x y" is not`,
		`t.yaml:7: billing.spill_dir: its directory "/nonexistent" does not exist`,
		"t.yaml:9: billing.pipeline.buffer: must be positive (leave it out for the default)",
		"t.yaml:10: billing.pipeline.batch_size: must be positive (leave it out for the default)",
		"t.yaml:11: billing.pipeline.flush_interval: must be positive (leave it out for the default)",
		"t.yaml:12: billing.pipeline.block_timeout: must be positive (leave it out for the default)",
		"t.yaml:13: billing.pipeline.write_timeout: must be positive (leave it out for the default)",
		"t.yaml:14: billing.pipeline.retry_attempts: must be positive (leave it out for the default)",
	} {
		assert.Contains(t, err.Error(), want)
	}
	assert.Len(t, strings.Split(err.Error(), "\n"), 12, "each mistake once:\n%v", err)

	for yaml, want := range map[string]string{
		"billing:\n  sinks: {}\n": "t.yaml:4: billing.sinks: names no sink: want jsonl, postgres or both",
		"billing:\n  sinks: {postgres: {dsn: 'postgres://x:y@h:notaport/db'}}\n": "t.yaml:4: billing.sinks.postgres.dsn: is no PostgreSQL connection string",
		"billing:\n  pipeline: {max_disk_bytes: 1000}\n":                         "t.yaml:4: billing.pipeline: billing: PipelineConfig.SegmentBytes 8388608 is over half of MaxDiskBytes 1000",
		"billing:\n  spill_dir: " + writeFile(t, "f", "") + "\n":                 "t.yaml:4: billing.spill_dir: ",
	} {
		err := checkConfig("providers:\n  - {name: s, type: sim}\n"+yaml, env{})
		require.Error(t, err, yaml)
		assert.Contains(t, err.Error(), want)
		assert.NotContains(t, err.Error(), "notaport", "a DSN may hold a password")
	}
}

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

	old := defaultUsageFile
	defaultUsageFile = filepath.Join(t.TempDir(), "llmgate-usage.jsonl")
	t.Cleanup(func() { defaultUsageFile = old })
	require.Equal(t, 0, run(context.Background(), []string{"-check"}, &out, &errOut), errOut.String())
	entries, err = os.ReadDir(filepath.Dir(defaultUsageFile))
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
