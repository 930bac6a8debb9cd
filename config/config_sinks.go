package config

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/llmgate/gateway/billing"
)

// billingSinksConf is billing.sinks: where usage records are stored. Each
// sink is fed by the pipeline at its own pace (billing.Pipeline).
type billingSinksConf struct {
	JSONL    *billingJSONLConf    `yaml:"jsonl"`
	Postgres *billingPostgresConf `yaml:"postgres"`
}

type billingJSONLConf struct {
	Path     string `yaml:"path"`      // default defaultUsageFile
	MaxBytes int64  `yaml:"max_bytes"` // rotate before a batch takes the file past it; default 64 MiB
	Daily    bool   `yaml:"daily"`     // rotate also when the UTC day changes
}

type billingPostgresConf struct {
	DSN    string `yaml:"dsn"`
	Schema string `yaml:"schema"` // optional; must exist
	Table  string `yaml:"table"`  // default llmgate_usage
}

// billingPipelineConf is billing.pipeline: the bounds of the record
// pipeline that users may need to move; zero is the library's default.
type billingPipelineConf struct {
	Buffer        int           `yaml:"buffer"`
	BatchSize     int           `yaml:"batch_size"`
	FlushInterval time.Duration `yaml:"flush_interval"`
	BlockTimeout  time.Duration `yaml:"block_timeout"`
	MaxDiskBytes  int64         `yaml:"max_disk_bytes"`
	WriteTimeout  time.Duration `yaml:"write_timeout"`
	RetryAttempts int           `yaml:"retry_attempts"`
}

// DefaultUsageFile is where usage records go without billing.sinks, in
// the working directory, unless Options.UsageFile says otherwise.
const DefaultUsageFile = "llmgate-usage.jsonl"

// defaultUsageFile is DefaultUsageFile; this package's tests point it at a
// temporary directory.
var defaultUsageFile = DefaultUsageFile

// Sink names: they name each sink's cursor and dead-letter files in the
// spill directory, so they never change.
const (
	SinkJSONL    = "jsonl"
	SinkPostgres = "postgres"
)

// pipelinePlan is what the billing section asks start (billing_run.go) to
// open: checked here, opened only when the gateway serves, so that -check
// creates no file, directory or table.
type pipelinePlan struct {
	pipeline billing.PipelineConfig // Sinks: filled by start
	jsonl    *billing.JSONLConfig
	postgres *postgresSinkPlan
}

type postgresSinkPlan struct {
	pool  *pgxpool.Config
	cfg   billing.PostgresConfig
	table string // schema.table, for the banner
}

// spillDirOf is the default spill directory: beside the JSONL file, named
// after it (llmgate-usage.jsonl -> llmgate-usage.wal).
func spillDirOf(jsonl string) string {
	return strings.TrimSuffix(jsonl, filepath.Ext(jsonl)) + ".wal"
}

// pipelinePlan checks billing.sinks, billing.spill_dir and
// billing.pipeline, each mistake at its key, and returns what start opens.
func (c *checker) pipelinePlan(bc *billingConf) pipelinePlan {
	var plan pipelinePlan
	sinks := bc.Sinks
	if sinks == nil { // the default: one JSONL file
		sinks = &billingSinksConf{JSONL: &billingJSONLConf{}}
	}
	if sinks.JSONL == nil && sinks.Postgres == nil {
		c.fail("billing.sinks", "names no sink: want jsonl, postgres or both")
	}
	if j := sinks.JSONL; j != nil {
		jc := billing.JSONLConfig{
			Path:     j.Path,
			MaxBytes: positive(c, "billing.sinks.jsonl.max_bytes", j.MaxBytes),
			Daily:    j.Daily,
		}
		if jc.Path == "" {
			jc.Path = c.usageFile
		}
		c.existingDir("billing.sinks.jsonl.path", filepath.Dir(jc.Path))
		if st, err := os.Stat(jc.Path); err == nil && st.IsDir() {
			c.fail("billing.sinks.jsonl.path", "%q is a directory", jc.Path)
		}
		c.lib("billing.sinks.jsonl", jc.Validate())
		plan.jsonl = &jc
	}
	if p := sinks.Postgres; p != nil {
		pp := &postgresSinkPlan{cfg: billing.PostgresConfig{Schema: p.Schema, Table: p.Table}}
		if p.DSN == "" {
			c.fail("billing.sinks.postgres.dsn", "is required")
		} else if pc, err := pgxpool.ParseConfig(p.DSN); err != nil {
			c.fail("billing.sinks.postgres.dsn", "is no PostgreSQL connection string") // its text may hold a password
		} else {
			pp.pool = pc
		}
		c.lib("billing.sinks.postgres", pp.cfg.Validate())
		pp.table = p.Table // the default's name is billing's to say
		if pp.table == "" {
			pp.table = "(billing's default)"
		}
		if p.Schema != "" {
			pp.table = p.Schema + "." + pp.table
		}
		plan.postgres = pp
	}

	dir := bc.SpillDir
	switch {
	case dir != "":
		c.existingDir("billing.spill_dir", filepath.Dir(filepath.Clean(dir)))
	case plan.jsonl != nil:
		dir = spillDirOf(plan.jsonl.Path)
	default:
		dir = spillDirOf(c.usageFile)
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		c.fail("billing.spill_dir", "%q is not a directory", dir)
	}
	pc := &bc.Pipeline
	plan.pipeline = billing.PipelineConfig{
		Dir:           dir,
		Buffer:        positive(c, "billing.pipeline.buffer", pc.Buffer),
		BatchSize:     positive(c, "billing.pipeline.batch_size", pc.BatchSize),
		FlushInterval: positive(c, "billing.pipeline.flush_interval", pc.FlushInterval),
		BlockTimeout:  positive(c, "billing.pipeline.block_timeout", pc.BlockTimeout),
		MaxDiskBytes:  positive(c, "billing.pipeline.max_disk_bytes", pc.MaxDiskBytes),
		WriteTimeout:  positive(c, "billing.pipeline.write_timeout", pc.WriteTimeout),
		RetryAttempts: positive(c, "billing.pipeline.retry_attempts", pc.RetryAttempts),
	}
	// The library's own rules on the bounds; the sinks are start's to open,
	// so a placeholder stands in for them.
	check := plan.pipeline
	check.Sinks = map[string]billing.Sink{SinkJSONL: billing.SinkFunc(nil)}
	c.lib("billing.pipeline", check.Validate())
	return plan
}

// existingDir reports a mistake at path unless dir is an existing directory.
func (c *checker) existingDir(path, dir string) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		c.fail(path, "its directory %q does not exist", dir)
	}
}
