package cache

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultPostgresSchema holds a PostgresStore's tables when its config
// names none.
const DefaultPostgresSchema = "llmgate"

// PostgresConfig configures a PostgresStore. Its zero value uses
// DefaultPostgresSchema.
type PostgresConfig struct {
	// Schema holds the store's tables: keys, and key_migrations, which
	// records the numbered migrations applied. It is created when missing.
	Schema string
}

// Validate reports a schema name PostgreSQL would refuse (over 63 bytes,
// or holding a NUL).
func (c PostgresConfig) Validate() error {
	if len(c.Schema) > 63 || strings.ContainsRune(c.Schema, 0) {
		return fmt.Errorf("cache: PostgresConfig.Schema %q is no PostgreSQL identifier (at most 63 bytes, no NUL)", clipID(c.Schema))
	}
	return nil
}

// PostgresStore is a Store in PostgreSQL: one row per key, holding the
// digest of its secret (bytea, 32 bytes, unique), never the secret. It is
// safe for concurrent use; several gateways may share one schema. It does
// not own its pool: close the pool after the store's last use.
type PostgresStore struct {
	pool  *pgxpool.Pool
	table string // the quoted schema.keys
}

// NewPostgresStore returns a store in cfg.Schema of pool's database, after
// creating the schema and applying every migration not applied yet (under
// an advisory lock, so that gateways starting together apply each once).
func NewPostgresStore(ctx context.Context, pool *pgxpool.Pool, cfg PostgresConfig) (*PostgresStore, error) {
	if pool == nil {
		panic("cache: nil pool")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Schema == "" {
		cfg.Schema = DefaultPostgresSchema
	}
	schema := pgx.Identifier{cfg.Schema}.Sanitize()
	if err := migrate(ctx, pool, cfg.Schema, schema); err != nil {
		return nil, fmt.Errorf("cache: migrating the key store in schema %q: %w", cfg.Schema, err)
	}
	return &PostgresStore{pool: pool, table: schema + ".keys"}, nil
}

const keyColumns = "id, digest, tenant, priority, models, ips, limits, budget_limit, budget_period, status, created, updated"

// Get returns the key with digest d, or ErrNotFound.
func (s *PostgresStore) Get(ctx context.Context, d Digest) (KeyMeta, error) {
	if !d.Valid() {
		return KeyMeta{}, ErrNotFound
	}
	row := s.pool.QueryRow(ctx, "SELECT "+keyColumns+" FROM "+s.table+" WHERE digest = $1", []byte(d))
	return scanKey(row)
}

// Create adds m.
func (s *PostgresStore) Create(ctx context.Context, m KeyMeta) error {
	if err := m.Validate(); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, "INSERT INTO "+s.table+" ("+keyColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
		keyArgs(&m)...)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation: the id or the digest
		return ErrKeyExists
	}
	return err
}

// Update changes the key with id in one transaction, its row locked.
func (s *PostgresStore) Update(ctx context.Context, id string, change func(*KeyMeta) error) (KeyMeta, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return KeyMeta{}, err
	}
	defer func() { _ = tx.Rollback(ctx) }() // after Commit, a no-op
	old, err := scanKey(tx.QueryRow(ctx, "SELECT "+keyColumns+" FROM "+s.table+" WHERE id = $1 FOR UPDATE", id))
	if err != nil {
		return KeyMeta{}, err
	}
	m := old
	if err := change(&m); err != nil {
		return old, err
	}
	if err := checkChange(&old, &m); err != nil {
		return old, err
	}
	args := keyArgs(&m)
	tag, err := tx.Exec(ctx, "UPDATE "+s.table+" SET tenant = $3, priority = $4, models = $5, ips = $6, limits = $7, "+
		"budget_limit = $8, budget_period = $9, status = $10, updated = $11 WHERE id = $1 AND digest = $2",
		append(args[:10:10], args[11])...) // created never changes
	if err != nil {
		return old, err
	}
	if tag.RowsAffected() != 1 { // the row is locked: only a broken schema gets here
		return old, fmt.Errorf("cache: updating key %q changed %d rows", clipID(id), tag.RowsAffected())
	}
	if err := tx.Commit(ctx); err != nil {
		return old, err
	}
	return m, nil
}

// List calls fn with every key in id order, reading them in pages so that
// no transaction stays open while fn runs.
func (s *PostgresStore) List(ctx context.Context, fn func(KeyMeta) error) error {
	const page = 500
	after := ""
	for {
		rows, err := s.pool.Query(ctx, "SELECT "+keyColumns+" FROM "+s.table+" WHERE id > $1 ORDER BY id LIMIT $2", after, page)
		if err != nil {
			return err
		}
		keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (KeyMeta, error) { return scanKey(r) })
		if err != nil {
			return err
		}
		for _, m := range keys {
			if err := fn(m); err != nil {
				return err
			}
		}
		if len(keys) < page {
			return nil
		}
		after = keys[len(keys)-1].ID
	}
}

func keyArgs(m *KeyMeta) []any {
	models := m.Models
	if models == nil {
		models = []string{}
	}
	ips := make([]string, len(m.IPs))
	for i, p := range m.IPs {
		ips[i] = p.String()
	}
	limits := m.Limits
	if limits == nil {
		limits = map[string]int64{}
	}
	return []any{m.ID, []byte(m.Digest), m.Tenant, m.Priority, models, ips, limits,
		m.Budget.Limit, m.Budget.Period, string(m.Status), m.Created, m.Updated}
}

func scanKey(row pgx.Row) (KeyMeta, error) {
	var m KeyMeta
	var digest []byte
	var ips []string
	var status string
	var created, updated time.Time
	err := row.Scan(&m.ID, &digest, &m.Tenant, &m.Priority, &m.Models, &ips, &m.Limits,
		&m.Budget.Limit, &m.Budget.Period, &status, &created, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return KeyMeta{}, ErrNotFound
	}
	if err != nil {
		return KeyMeta{}, err
	}
	m.Digest, m.Status, m.Created, m.Updated = Digest(digest), Status(status), created, updated
	if len(m.Models) == 0 {
		m.Models = nil
	}
	if len(m.Limits) == 0 {
		m.Limits = nil
	}
	for _, s := range ips {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return KeyMeta{}, fmt.Errorf("cache: key %q holds a bad prefix: %w", clipID(m.ID), err)
		}
		m.IPs = append(m.IPs, p)
	}
	return m, nil
}
