package billing

import (
	"context"
	"fmt"
	"strings"
)

// ledgerMigrations are the ledger's schema, in order; migration i+1 is
// ledgerMigrations[i]. {{t}} is the table, {{name}} its bare name (for
// index names). Never edit one that has shipped: append a new one.
var ledgerMigrations = []string{
	`CREATE TABLE {{t}} (
		call_id               text        NOT NULL,
		attempt               integer     NOT NULL,
		time                  timestamptz NOT NULL,
		key_id                text        NOT NULL DEFAULT '',
		tenant                text        NOT NULL DEFAULT '',
		target                text        NOT NULL DEFAULT '',
		model_asked           text        NOT NULL DEFAULT '',
		model_served          text        NOT NULL DEFAULT '',
		prompt_tokens         bigint      NOT NULL DEFAULT 0,
		completion_tokens     bigint      NOT NULL DEFAULT 0,
		cached_tokens         bigint      NOT NULL DEFAULT 0,
		cache_write_tokens    bigint      NOT NULL DEFAULT 0,
		cache_write_1h_tokens bigint      NOT NULL DEFAULT 0,
		reasoning_tokens      bigint      NOT NULL DEFAULT 0,
		estimated             boolean     NOT NULL DEFAULT false,
		outcome               text        NOT NULL DEFAULT '',
		status                integer     NOT NULL DEFAULT 0,
		latency_ns            bigint      NOT NULL DEFAULT 0,
		ttft_ns               bigint      NOT NULL DEFAULT 0,
		stream                boolean     NOT NULL DEFAULT false,
		cost_nano_usd         bigint      NOT NULL DEFAULT 0,
		cost_known            boolean     NOT NULL DEFAULT false,
		recorded_at           timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (call_id, attempt)
	)`,
	// Spend by tenant or key over a period: what budgets and reports ask.
	`CREATE INDEX {{name}}_tenant_time ON {{t}} (tenant, time);
	 CREATE INDEX {{name}}_key_time ON {{t}} (key_id, time)`,
}

// migrate applies the migrations not yet applied, each in a transaction
// with its version row, all under a transaction-scoped advisory lock on
// the table's name.
func migrate(ctx context.Context, db PostgresDB, cfg PostgresConfig) error {
	table, versions := cfg.ident(""), cfg.ident("_migrations")
	name := cfg.Table
	if name == "" {
		name = defaultLedgerTable
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("billing: postgres migrate: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "llmgate.billing."+table); err != nil {
		return fmt.Errorf("billing: postgres migrate: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+versions+
		` (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("billing: postgres migrate: %w", err)
	}
	var have int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+versions).Scan(&have); err != nil {
		return fmt.Errorf("billing: postgres migrate: %w", err)
	}
	if have > len(ledgerMigrations) {
		return fmt.Errorf("billing: postgres: %s is at migration %d, newer than this build's %d", table, have, len(ledgerMigrations))
	}
	for v := have + 1; v <= len(ledgerMigrations); v++ {
		sql := strings.NewReplacer("{{t}}", table, "{{name}}", name).Replace(ledgerMigrations[v-1])
		for _, stmt := range strings.Split(sql, ";") {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("billing: postgres migration %d: %w", v, err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+versions+` (version) VALUES ($1)`, v); err != nil {
			return fmt.Errorf("billing: postgres migration %d: %w", v, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("billing: postgres migrate: %w", err)
	}
	return nil
}
