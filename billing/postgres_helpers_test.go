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

	"github.com/llmgate/gateway/internal/servicetest"
)

var ledgerSeq atomic.Int64

// postgresForTest returns a pool on the test database (servicetest) and a
// ledger table name unique to this run, dropped with its migrations table
// when the test ends.
func postgresForTest(t testing.TB) (*pgxpool.Pool, PostgresConfig) {
	t.Helper()
	pool := servicetest.Postgres(t)
	cfg := PostgresConfig{Table: fmt.Sprintf("usage_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, ledgerSeq.Add(1))}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = pool.Exec(ctx, "DROP TABLE IF EXISTS "+cfg.ident("")+", "+cfg.ident("_migrations"))
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
