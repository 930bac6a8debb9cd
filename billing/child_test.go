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
)

const (
	childEnv      = "BILLING_TEST_CHILD"
	childDirEnv   = "BILLING_TEST_DIR"
	childTableEnv = "BILLING_TEST_TABLE"
	childMax      = 1_000_000
)

// init runs this test binary as the crash test's child when the
// environment asks for it (the os.Args re-exec trick), before TestMain: the
// child enqueues records into a pipeline feeding a ledger and a JSONL file,
// printing "durable N" each time Sync confirms records 0..N-1, until it is
// killed (or gives up after 30 s).
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
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; i < childMax && time.Now().Before(deadline); i++ {
		if err := p.Enqueue(testRecord(i)); err != nil {
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
// holds each record once.
func TestPipelineReplayAfterSIGKILLCompletesTheLedgerWithoutDuplicates(t *testing.T) {
	pool, cfg := postgresForTest(t)
	dir := t.TempDir()
	dsn := os.Getenv("GATEWAY_POSTGRES_DSN")
	if dsn == "" {
		dsn = defaultTestDSN
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=crash", childDirEnv+"="+dir, childTableEnv+"="+cfg.Table, "GATEWAY_POSTGRES_DSN="+dsn)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	durable := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		require.False(t, strings.HasPrefix(line, "error"), line)
		if n, ok := strings.CutPrefix(line, "durable "); ok {
			durable, _ = strconv.Atoi(n)
			if durable >= 10_000 {
				break
			}
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	require.GreaterOrEqual(t, durable, 10_000, "the child stopped before it was killed")
	before, _ := ledgerCounts(t, pool, cfg)
	t.Logf("killed after %d durable records; the ledger had %d rows", durable, before)

	p, err := crashPipeline(context.Background(), pool, dir, cfg)
	require.NoError(t, err)
	closePipeline(t, p)

	rows, keys := ledgerCounts(t, pool, cfg)
	assert.Equal(t, rows, keys, "a duplicate row")
	assert.GreaterOrEqual(t, rows, durable, "a record Sync confirmed is missing")
	var missing int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM generate_series(0, $1 - 1) g
		WHERE NOT EXISTS (SELECT 1 FROM `+cfg.ident("")+` WHERE call_id = 'call-' || g AND attempt = 1)`, durable).Scan(&missing))
	assert.Zero(t, missing, "confirmed records missing from the ledger")

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
