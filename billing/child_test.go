package billing

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/internal/servicetest"
)

const (
	childEnv      = "BILLING_TEST_CHILD"
	childDirEnv   = "BILLING_TEST_DIR"
	childTableEnv = "BILLING_TEST_TABLE"
	childFromEnv  = "BILLING_TEST_FROM"
	childMax      = 1_000_000
)

// init runs this test binary as the crash test's child when the
// environment asks for it (the os.Args re-exec trick), before TestMain: the
// child enqueues records into a pipeline feeding a ledger and a JSONL file,
// printing "durable N" each time Sync confirms records from..from+N-1,
// until it is killed (or gives up after 30 s).
func init() {
	if os.Getenv(childEnv) != "crash" {
		return
	}
	if err := crashChild(); err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	os.Exit(0)
}

func crashChild() error {
	ctx := context.Background()
	dir := os.Getenv(childDirEnv)
	pool, err := pgxpool.New(ctx, os.Getenv("GATEWAY_POSTGRES_DSN"))
	if err != nil {
		return err
	}
	p, err := crashPipeline(ctx, pool, dir, PostgresConfig{Table: os.Getenv(childTableEnv)})
	if err != nil {
		return err
	}
	from, _ := strconv.Atoi(os.Getenv(childFromEnv))
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; i < childMax && time.Now().Before(deadline); i++ {
		if err := p.Enqueue(testRecord(from + i)); err != nil {
			return err
		}
		if (i+1)%1000 == 0 {
			if err := p.Sync(ctx); err != nil {
				return err
			}
			fmt.Println("durable", i+1)
		}
	}
	return nil // the parent kills the child long before
}

// crashPipeline is the child's pipeline, and the parent's after the crash.
func crashPipeline(ctx context.Context, pool *pgxpool.Pool, dir string, cfg PostgresConfig) (*Pipeline, error) {
	pg, err := NewPostgres(ctx, pool, cfg)
	if err != nil {
		return nil, err
	}
	jl, err := NewJSONL(JSONLConfig{Path: filepath.Join(dir, "usage.jsonl")})
	if err != nil {
		return nil, err
	}
	return NewPipeline(PipelineConfig{Dir: filepath.Join(dir, "wal"), Sinks: map[string]Sink{"ledger": pg, "jsonl": jl}, BatchSize: 500, SegmentBytes: 1 << 20})
}

// RELIABILITY.md case 24 and issue 11: a process killed with SIGKILL mid-run
// and restarted -> the write-ahead replay completes the ledger (every record
// Sync had confirmed is there) with no duplicate row, and the JSONL file
// holds each record once. The second child is killed too, while it replays
// what the first left and adds its own: replay survives a crash of its own.
func TestPipelineReplayAfterSIGKILLCompletesTheLedgerWithoutDuplicates(t *testing.T) {
	pool, cfg := postgresForTest(t)
	dir := t.TempDir()
	const second = 500_000 // the second child's records start here
	first := killChildAfter(t, dir, cfg, 0, 10_000)
	before, _ := ledgerCounts(t, pool, cfg)
	t.Logf("first child killed after %d durable records; the ledger had %d rows", first, before)
	again := killChildAfter(t, dir, cfg, second, 1_000)
	mid, _ := ledgerCounts(t, pool, cfg)
	t.Logf("second child killed after %d durable records of its own; the ledger had %d rows", again, mid)

	p, err := crashPipeline(context.Background(), pool, dir, cfg)
	require.NoError(t, err)
	closePipeline(t, p)

	rows, keys := ledgerCounts(t, pool, cfg)
	assert.Equal(t, rows, keys, "a duplicate row")
	assert.GreaterOrEqual(t, rows, first+again, "a record Sync confirmed is missing")
	for _, run := range []struct{ from, n int }{{0, first}, {second, again}} {
		var missing int
		require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM generate_series($1::int, $1::int + $2::int - 1) g
			WHERE NOT EXISTS (SELECT 1 FROM `+cfg.ident("")+` WHERE call_id = 'call-' || g AND attempt = 1)`, run.from, run.n).Scan(&missing))
		assert.Zero(t, missing, "records Sync confirmed from %d are missing from the ledger", run.from)
	}

	seen := jsonlKeys(t, filepath.Join(dir, "usage.jsonl"))
	assert.Len(t, seen, rows, "the JSONL file and the ledger disagree")
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%v written %d times to the JSONL file", k, n)
			break
		}
	}
	st := p.Stats()
	assert.Positive(t, st.Sinks["ledger"].FromLog, "nothing was replayed")
	assert.Empty(t, mustGlob(t, filepath.Join(dir, "wal", "*"+walSuffix)), "the log kept acknowledged segments")
}

// killChildAfter runs the crash child on dir, enqueueing records from from
// on, and kills it with SIGKILL once Sync has confirmed at least n of them.
// It returns how many were confirmed.
func killChildAfter(t *testing.T, dir string, cfg PostgresConfig, from, n int) int {
	t.Helper()
	dsn := servicetest.PostgresDSN()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=crash", childDirEnv+"="+dir, childTableEnv+"="+cfg.Table,
		childFromEnv+"="+strconv.Itoa(from), "GATEWAY_POSTGRES_DSN="+dsn)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	durable := 0
	sc := bufio.NewScanner(out)
	for durable < n && sc.Scan() {
		line := sc.Text()
		require.False(t, strings.HasPrefix(line, "error"), line)
		if k, ok := strings.CutPrefix(line, "durable "); ok {
			durable, _ = strconv.Atoi(k)
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	require.GreaterOrEqual(t, durable, n, "the child stopped before it was killed")
	return durable
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	require.NoError(t, err)
	var nonEmpty []string
	for _, f := range m {
		if fi, err := os.Stat(f); err == nil && fi.Size() > 0 {
			nonEmpty = append(nonEmpty, f)
		}
	}
	return nonEmpty
}
