package billing

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PostgresDB is what the ledger needs of a database: *pgxpool.Pool and
// *pgx.Conn both have it. A *pgx.Conn is not safe for concurrent use, which
// a pipeline's one worker a sink respects.
type PostgresDB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// PostgresConfig names the ledger's table. The zero value is the table
// llmgate_usage on the connection's search path.
type PostgresConfig struct {
	Schema string // optional; must exist
	Table  string // llmgate_usage; its migrations are recorded in <Table>_migrations
}

const defaultLedgerTable = "llmgate_usage"

var pgIdent = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,50}$`)

// Validate reports every name that is not a plain lower-case identifier.
func (c PostgresConfig) Validate() error {
	var errs []error
	if c.Schema != "" && !pgIdent.MatchString(c.Schema) {
		errs = append(errs, fmt.Errorf("billing: PostgresConfig.Schema %q is not [a-z_][a-z0-9_]{0,50}", c.Schema))
	}
	if c.Table != "" && !pgIdent.MatchString(c.Table) {
		errs = append(errs, fmt.Errorf("billing: PostgresConfig.Table %q is not [a-z_][a-z0-9_]{0,50}", c.Table))
	}
	return errors.Join(errs...)
}

func (c PostgresConfig) ident(suffix string) string {
	t := c.Table
	if t == "" {
		t = defaultLedgerTable
	}
	if c.Schema == "" {
		return pgx.Identifier{t + suffix}.Sanitize()
	}
	return pgx.Identifier{c.Schema, t + suffix}.Sanitize()
}

// Postgres is a Sink that stores records in a PostgreSQL ledger table, one
// row per (call_id, attempt), its primary key: a batch is one INSERT ...
// SELECT FROM unnest(...) ON CONFLICT DO NOTHING, so a batch offered again
// stores nothing twice and a batch is stored whole or not at all. It is
// safe for concurrent use when its PostgresDB is (a pool).
type Postgres struct {
	db     PostgresDB
	insert string
}

var _ Sink = (*Postgres)(nil)

// NewPostgres creates or migrates the ledger table (the numbered migrations
// below, each applied once, under an advisory lock so several instances
// may start together) and returns the sink.
func NewPostgres(ctx context.Context, db PostgresDB, cfg PostgresConfig) (*Postgres, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := migrate(ctx, db, cfg); err != nil {
		return nil, err
	}
	return &Postgres{db: db, insert: insertSQL(cfg.ident(""))}, nil
}

// ledgerColumns are the table's columns in the order Write sends them; each
// comes from one Record field (TestLedgerColumnsCoverEveryRecordField).
var ledgerColumns = []struct{ name, array string }{
	{"call_id", "text[]"}, {"attempt", "int4[]"}, {"time", "timestamptz[]"},
	{"key_id", "text[]"}, {"tenant", "text[]"}, {"target", "text[]"},
	{"model_asked", "text[]"}, {"model_served", "text[]"},
	{"prompt_tokens", "int8[]"}, {"completion_tokens", "int8[]"}, {"cached_tokens", "int8[]"},
	{"cache_write_tokens", "int8[]"}, {"cache_write_1h_tokens", "int8[]"}, {"reasoning_tokens", "int8[]"},
	{"estimated", "bool[]"}, {"outcome", "text[]"}, {"status", "int4[]"},
	{"latency_ns", "int8[]"}, {"ttft_ns", "int8[]"}, {"stream", "bool[]"},
	{"cost_nano_usd", "int8[]"}, {"cost_known", "bool[]"},
}

func insertSQL(table string) string {
	var cols, args []string
	for i, c := range ledgerColumns {
		cols = append(cols, c.name)
		args = append(args, fmt.Sprintf("$%d::%s", i+1, c.array))
	}
	return "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") SELECT * FROM unnest(" +
		strings.Join(args, ", ") + ") ON CONFLICT (call_id, attempt) DO NOTHING"
}

// Write stores the batch's records not stored before, in one statement.
func (p *Postgres) Write(ctx context.Context, batch []Record) error {
	if len(batch) == 0 {
		return nil
	}
	n := len(batch)
	var (
		callID, keyID, tenant, target, asked, served, outcome = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		attempt, status                                       = make([]int32, n), make([]int32, n)
		at                                                    = make([]time.Time, n)
		prompt, completion, cached, cw, cw1h, reasoning       = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		latency, ttft, cost                                   = make([]int64, n), make([]int64, n), make([]int64, n)
		estimated, stream, known                              = make([]bool, n), make([]bool, n), make([]bool, n)
	)
	for i := range batch {
		r := &batch[i]
		callID[i], attempt[i], at[i] = r.CallID, int32(r.Attempt), r.Time
		keyID[i], tenant[i], target[i], asked[i], served[i] = r.KeyID, r.Tenant, r.Target, r.ModelAsked, r.ModelServed
		u := r.Usage
		prompt[i], completion[i], cached[i] = int64(u.PromptTokens), int64(u.CompletionTokens), int64(u.CachedTokens)
		cw[i], cw1h[i], reasoning[i], estimated[i] = int64(u.CacheWriteTokens), int64(u.CacheWrite1hTokens), int64(u.ReasoningTokens), u.Estimated
		outcome[i], status[i], latency[i], ttft[i], stream[i] = r.Outcome, int32(r.Status), int64(r.Latency), int64(r.TTFT), r.Stream
		cost[i], known[i] = r.Cost, r.CostKnown
	}
	_, err := p.db.Exec(ctx, p.insert, callID, attempt, at, keyID, tenant, target, asked, served,
		prompt, completion, cached, cw, cw1h, reasoning, estimated, outcome, status,
		latency, ttft, stream, cost, known)
	if err != nil {
		return fmt.Errorf("billing: postgres: %w", err)
	}
	return nil
}
