package billing

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

const defaultTestDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var ledgerSeq atomic.Int64

// postgresForTest connects to GATEWAY_POSTGRES_DSN, or skips the test when
// the server is unreachable (fails instead under GATEWAY_REQUIRE_SERVICES=1).
// It returns the pool and a ledger table name unique to this run, dropped
// with its migrations table when the test ends.
func postgresForTest(t testing.TB) (*pgxpool.Pool, PostgresConfig) {
	t.Helper()
	dsn := os.Getenv("GATEWAY_POSTGRES_DSN")
	if dsn == "" {
		dsn = defaultTestDSN
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, dsn)
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		if os.Getenv("GATEWAY_REQUIRE_SERVICES") == "1" {
			t.Fatalf("PostgreSQL at %s is required (GATEWAY_REQUIRE_SERVICES=1): %v", dsn, err)
		}
		t.Skipf("PostgreSQL unreachable at %s (set GATEWAY_POSTGRES_DSN): %v", dsn, err)
	}
	cfg := PostgresConfig{Table: fmt.Sprintf("usage_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, ledgerSeq.Add(1))}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = pool.Exec(ctx, "DROP TABLE IF EXISTS "+cfg.ident("")+", "+cfg.ident("_migrations"))
		pool.Close()
	})
	return pool, cfg
}

// ledgerCounts returns the ledger's rows and distinct keys.
func ledgerCounts(t testing.TB, pool *pgxpool.Pool, cfg PostgresConfig) (rows, keys int) {
	t.Helper()
	err := pool.QueryRow(context.Background(),
		"SELECT count(*), count(DISTINCT (call_id, attempt)) FROM "+cfg.ident("")).Scan(&rows, &keys)
	require.NoError(t, err)
	return rows, keys
}
