package config

import (
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
