package billing

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPostgresStoresABatchOnceHoweverOftenOffered(t *testing.T) {
	pool, cfg := postgresForTest(t)
	ctx := context.Background()
	pg, err := NewPostgres(ctx, pool, cfg)
	require.NoError(t, err)
	batch := []Record{testRecord(1), testRecord(2), testRecord(3)}
	require.NoError(t, pg.Write(ctx, batch))
	require.NoError(t, pg.Write(ctx, batch[1:])) // a retry after a lost ack
	require.NoError(t, pg.Write(ctx, []Record{testRecord(1), testRecord(1)}), "a key twice in one batch")
	rows, keys := ledgerCounts(t, pool, cfg)
	assert.Equal(t, 3, rows)
	assert.Equal(t, 3, keys)

	want := testRecord(2)
	var got Record
	err = pool.QueryRow(ctx, `SELECT call_id, attempt, time, key_id, tenant, target, model_asked, model_served,
		prompt_tokens, completion_tokens, cached_tokens, outcome, status, latency_ns, ttft_ns, stream, cost_nano_usd, cost_known
		FROM `+cfg.ident("")+` WHERE call_id = $1`, want.CallID).Scan(&got.CallID, &got.Attempt, &got.Time,
		&got.KeyID, &got.Tenant, &got.Target, &got.ModelAsked, &got.ModelServed, &got.Usage.PromptTokens,
		&got.Usage.CompletionTokens, &got.Usage.CachedTokens, &got.Outcome, &got.Status, &got.Latency, &got.TTFT,
		&got.Stream, &got.Cost, &got.CostKnown)
	require.NoError(t, err)
	got.Time = got.Time.UTC()
	want.Time = want.Time.Truncate(time.Microsecond) // timestamptz keeps microseconds
	assert.Equal(t, want, got)
}

func TestPostgresMigrationsApplyOnceAcrossInstances(t *testing.T) {
	pool, cfg := postgresForTest(t)
	ctx := context.Background()
	errs := make(chan error, 4)
	for range 4 {
		go func() { _, err := NewPostgres(ctx, pool, cfg); errs <- err }()
	}
	for range 4 {
		require.NoError(t, <-errs)
	}
	var versions int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+cfg.ident("_migrations")).Scan(&versions))
	assert.Equal(t, len(ledgerMigrations), versions)
}

func TestPostgresConfigRefusesUnsafeNames(t *testing.T) {
	err := PostgresConfig{Schema: "a b", Table: `x"; DROP TABLE y; --`}.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Schema")
	assert.Contains(t, err.Error(), "Table")
}

// A Record field the ledger has no column for would be lost silently; this
// fails when one is added without one.
func TestLedgerColumnsCoverEveryRecordField(t *testing.T) {
	cols := map[string]bool{}
	for _, c := range ledgerColumns {
		cols[c.name] = true
	}
	var walk func(reflect.Type)
	walk = func(rt reflect.Type) {
		for f := range rt.Fields() {
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Time]() {
				walk(f.Type)
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			assert.True(t, cols[name], "Record field %s (json %q) has no ledger column", f.Name, name)
			delete(cols, name)
		}
	}
	walk(reflect.TypeFor[Record]())
	assert.Empty(t, cols, "ledger columns without a Record field")
}
