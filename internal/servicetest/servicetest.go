// Package servicetest gives the project's tests its real services, Redis
// and PostgreSQL, under one policy: a test that needs one skips with a clear
// message when it is unreachable, and fails instead when
// GATEWAY_REQUIRE_SERVICES=1 (as .ci/run sets). Every test gets names of
// its own (a Redis key prefix, a PostgreSQL schema), removed when it ends,
// so that the packages' test binaries, which run at the same time, never
// see each other's data.
package servicetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// RedisAddr is the test Redis: GATEWAY_REDIS_ADDR, or 127.0.0.1:6379.
func RedisAddr() string {
	if a := os.Getenv("GATEWAY_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// PostgresDSN is the test database: GATEWAY_POSTGRES_DSN, or the local
// server's database test as user postgres.
func PostgresDSN() string {
	if d := os.Getenv("GATEWAY_POSTGRES_DSN"); d != "" {
		return d
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// Required reports whether the services must be there
// (GATEWAY_REQUIRE_SERVICES=1).
func Required() bool { return os.Getenv("GATEWAY_REQUIRE_SERVICES") == "1" }

// Unavailable ends t because service is unreachable: it fails when the
// services are required and skips otherwise, saying which variable points
// the tests elsewhere.
func Unavailable(t testing.TB, service string, err error) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is unreachable and GATEWAY_REQUIRE_SERVICES=1: %v", service, err)
	}
	t.Skipf("%s is unreachable (set GATEWAY_REDIS_ADDR or GATEWAY_POSTGRES_DSN): %v", service, err)
}

// Name returns prefix followed by 12 random hex digits: a name of this
// test's own.
func Name(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Redis returns a client of the test Redis made with opts (nil: defaults;
// Addr is set here) and a key prefix of this test's own, in one hash slot
// ("{llmgate-test-<ns>-<hex>}:"). When the test ends, every key under the
// prefix is deleted and the client is closed.
func Redis(t testing.TB, opts *redis.Options, ns string) (*redis.Client, string) {
	t.Helper()
	o := redis.Options{}
	if opts != nil {
		o = *opts
	}
	o.Addr = RedisAddr()
	rdb := redis.NewClient(&o)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		Unavailable(t, "Redis at "+o.Addr, err)
	}
	prefix := "{" + Name("llmgate-test-"+ns+"-") + "}:"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	return rdb, prefix
}

// Postgres returns a pool on the test database, closed when the test ends.
func Postgres(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, PostgresDSN())
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		Unavailable(t, "PostgreSQL at GATEWAY_POSTGRES_DSN", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Schema returns a schema name of this test's own ("llmgate_<ns>_<hex>"),
// dropped with everything in it when the test ends (before pool closes).
func Schema(t testing.TB, pool *pgxpool.Pool, ns string) string {
	t.Helper()
	schema := Name("llmgate_" + ns + "_")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping test schema %s: %v", schema, err)
		}
	})
	return schema
}
