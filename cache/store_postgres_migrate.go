package cache

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// keyMigrations are the key store's schema, one numbered step each
// (version i+1), applied in order and recorded in key_migrations. A step
// once released is never edited: a change is a new step. %[1]s is the
// quoted schema.
var keyMigrations = []string{
	`CREATE TABLE %[1]s.keys (
		id            text PRIMARY KEY,
		digest        bytea NOT NULL UNIQUE CHECK (octet_length(digest) = 32),
		tenant        text NOT NULL,
		priority      integer NOT NULL DEFAULT 0,
		models        text[] NOT NULL DEFAULT '{}',
		ips           text[] NOT NULL DEFAULT '{}',
		limits        jsonb NOT NULL DEFAULT '{}',
		budget_limit  bigint NOT NULL DEFAULT 0,
		budget_period text NOT NULL DEFAULT '',
		status        text NOT NULL CHECK (status IN ('active', 'disabled', 'revoked')),
		created       timestamptz NOT NULL,
		updated       timestamptz NOT NULL
	)`,
}

// migrate creates schema (name quoted as quoted) and applies the migrations
// it lacks, in one transaction under an advisory lock on the schema's name.
func migrate(ctx context.Context, pool *pgxpool.Pool, name, quoted string) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('llmgate.keys:' || $1))", name); err != nil {
		return err
	}
	for _, q := range []string{
		"CREATE SCHEMA IF NOT EXISTS " + quoted,
		"CREATE TABLE IF NOT EXISTS " + quoted + ".key_migrations (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())",
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return err
		}
	}
	var applied int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM "+quoted+".key_migrations").Scan(&applied); err != nil {
		return err
	}
	if applied > len(keyMigrations) {
		return fmt.Errorf("the schema is at version %d, newer than this gateway's %d", applied, len(keyMigrations))
	}
	for v := applied + 1; v <= len(keyMigrations); v++ {
		if _, err := tx.Exec(ctx, fmt.Sprintf(keyMigrations[v-1], quoted)); err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+quoted+".key_migrations (version) VALUES ($1)", v); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}
