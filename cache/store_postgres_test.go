package cache_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/cache"
	"github.com/llmgate/gateway/internal/servicetest"
)

// postgresForTest returns a pool on the test database and a schema of this
// test's own (servicetest).
func postgresForTest(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	pool := servicetest.Postgres(t)
	return pool, servicetest.Schema(t, pool, "keys_test")
}

func TestPostgresStore(t *testing.T) {
	pool, schema := postgresForTest(t)
	s, err := cache.NewPostgresStore(context.Background(), pool, cache.PostgresConfig{Schema: schema})
	require.NoError(t, err)
	testStore(t, s)
}

// Gateways starting together on one schema apply each migration once, and
// a later start applies none.
func TestPostgresStoreMigratesOnce(t *testing.T) {
	pool, schema := postgresForTest(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { _, errs[i] = cache.NewPostgresStore(ctx, pool, cache.PostgresConfig{Schema: schema}) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	_, err := cache.NewPostgresStore(ctx, pool, cache.PostgresConfig{Schema: schema})
	require.NoError(t, err)
	var versions []int
	rows, err := pool.Query(ctx, "SELECT version FROM "+pgx.Identifier{schema}.Sanitize()+".key_migrations ORDER BY version")
	require.NoError(t, err)
	versions, err = pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	assert.Equal(t, []int{1}, versions)

	// Only digests are stored: no column holds a secret.
	var cols []string
	rows, err = pool.Query(ctx, "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'keys' ORDER BY ordinal_position", schema)
	require.NoError(t, err)
	cols, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.NotContains(t, cols, "secret")
	assert.Contains(t, cols, "digest")
}

// The PostgreSQL store end to end, with the real server: a key created
// through the admin API authenticates a call; revoked, it is refused at
// once, and its row holds the digest only.
func TestPostgresStoreEndToEnd(t *testing.T) {
	pool, schema := postgresForTest(t)
	ctx := context.Background()
	s, err := cache.NewPostgresStore(ctx, pool, cache.PostgresConfig{Schema: schema})
	require.NoError(t, err)
	keys := newMapCache(s)
	admin, adminKey := newAdmin(t, s, keys)
	h := authHandler(t, keys, cache.AuthConfig{}, nil)

	created := adminDo(t, admin, adminKey, http.MethodPost, "/admin/keys", `{"id":"pg-1","tenant":"acme"}`)
	require.Equal(t, http.StatusCreated, created.Code, created.Body.String())
	secret := secretOf(t, created.Body.Bytes())
	assert.Equal(t, http.StatusOK, post(h, "", "Authorization", "Bearer "+secret).Code)

	var stored []byte
	require.NoError(t, pool.QueryRow(ctx, "SELECT digest FROM "+pgx.Identifier{schema}.Sanitize()+".keys WHERE id = 'pg-1'").Scan(&stored))
	assert.Equal(t, []byte(cache.DigestOf(secret)), stored)

	revoked := adminDo(t, admin, adminKey, http.MethodPost, "/admin/keys/pg-1/revoke", "")
	require.Equal(t, http.StatusOK, revoked.Code, revoked.Body.String())
	assert.Equal(t, http.StatusUnauthorized, post(h, "", "Authorization", "Bearer "+secret).Code)
	m, err := s.Get(ctx, cache.DigestOf(secret))
	require.NoError(t, err)
	assert.Equal(t, cache.StatusRevoked, m.Status)
}
