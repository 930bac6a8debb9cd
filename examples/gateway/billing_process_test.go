package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/billing"
	"github.com/llmgate/gateway/config"
)

// childEnv makes the test binary the main job (runChildIfAsked): a real
// process, for tests that kill it.
const childEnv = "LLMGATE_TEST_MAIN_JOB"

// runChildIfAsked runs the main job as main does, with the process's
// arguments, and exits, when childEnv is set; otherwise it returns.
func runChildIfAsked() {
	if os.Getenv(childEnv) != "1" {
		return
	}
	usageFile = config.DefaultUsageFile // the real default, in the working directory
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// mainJob is the main job running as a child process.
type mainJob struct {
	cmd            *exec.Cmd
	base, key      string
	stdout, stderr *syncBuffer
	exited         chan struct{} // closed when it has exited; then err is its Wait's
	err            error
}

// startMainJob starts the main job in dir with args and waits until it
// listens. The test's cleanup kills it (its PID only) if it still runs.
func startMainJob(t *testing.T, dir string, args ...string) *mainJob {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	j := &mainJob{stdout: newSyncBuffer(), stderr: newSyncBuffer(), exited: make(chan struct{})}
	j.cmd = exec.Command(exe, append(args, "-addr", "127.0.0.1:0")...)
	j.cmd.Dir = dir
	j.cmd.Env = append(os.Environ(), childEnv+"=1")
	j.cmd.Stdout, j.cmd.Stderr = j.stdout, j.stderr
	require.NoError(t, j.cmd.Start())
	go func() { j.err = j.cmd.Wait(); close(j.exited) }()
	t.Cleanup(func() {
		select {
		case <-j.exited:
		default:
			_ = j.cmd.Process.Kill()
			<-j.exited
		}
	})
	safety := time.NewTimer(30 * time.Second) // only if it hangs before listening
	defer safety.Stop()
	for {
		if m := listeningLine.FindStringSubmatch(j.stdout.String()); m != nil {
			j.base = m[1]
			if k := demoKeyLine.FindStringSubmatch(j.stdout.String()); k != nil {
				j.key = k[1]
			}
			return j
		}
		select {
		case <-j.stdout.Changed():
		case <-j.exited:
			t.Fatalf("the main job exited before listening (%v); stderr:\n%s", j.err, j.stderr)
		case <-safety.C:
			t.Fatalf("the main job is not listening; stdout:\n%s\nstderr:\n%s", j.stdout, j.stderr)
		}
	}
}

// signal sends sig and waits, up to a bound, for the job to exit; it
// returns the exit code (-1 when a signal ended it).
func (j *mainJob) signal(t *testing.T, sig os.Signal) int {
	t.Helper()
	require.NoError(t, j.cmd.Process.Signal(sig))
	select {
	case <-j.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("the main job did not exit after %v; stderr:\n%s", sig, j.stderr)
	}
	return j.cmd.ProcessState.ExitCode()
}

// load runs calls from workers goroutines through openai-go until stop is
// closed, a call fails after stop, or max calls were made. Each answered
// call's id (its X-Request-Id, the records' CallID) is sent to answered,
// which must hold max.
func load(t *testing.T, base, key string, workers, max int, stop <-chan struct{}, answered chan<- string) *sync.WaitGroup {
	client := sdk(t, base, key)
	var wg sync.WaitGroup
	var mu sync.Mutex
	left := max
	for w := range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				if left == 0 {
					mu.Unlock()
					return
				}
				left--
				mu.Unlock()
				select {
				case <-stop:
					return
				default:
				}
				var resp *http.Response
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				var err error
				if w%2 == 0 {
					_, err = client.Chat.Completions.New(ctx, chatParams, option.WithResponseInto(&resp))
				} else {
					s := client.Chat.Completions.NewStreaming(ctx, chatParams, option.WithResponseInto(&resp))
					for s.Next() {
					}
					err = s.Err()
					s.Close()
				}
				cancel()
				if err == nil && resp != nil {
					answered <- resp.Header.Get("X-Request-Id")
				}
			}
		})
	}
	return &wg
}

// recordKey is a record's idempotency key.
type recordKey struct {
	call    string
	attempt int
}

func readRecords(t *testing.T, path string) []billing.Record {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var recs []billing.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r billing.Record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), sc.Text())
		recs = append(recs, r)
	}
	require.NoError(t, sc.Err())
	return recs
}

// uniqueKeys returns the records' keys, failing on a key seen twice.
func uniqueKeys(t *testing.T, what string, keys []recordKey) map[recordKey]bool {
	t.Helper()
	set := make(map[recordKey]bool, len(keys))
	for _, k := range keys {
		assert.False(t, set[k], "%s holds %v twice", what, k)
		set[k] = true
	}
	return set
}

func calls(set map[recordKey]bool) map[string]bool {
	out := map[string]bool{}
	for k := range set {
		out[k.call] = true
	}
	return out
}

var usageRecordsLine = regexp.MustCompile(`usage records: (\S+)\n`)

// SIGTERM drains: the embedded default, served through openai-go with the
// demo key it prints, is sent SIGTERM while 8 clients call it; it exits 0
// and every call answered, before or during the shutdown, has its record
// in the JSONL file named at start, each (call_id, attempt) once.
func TestMainJobSIGTERMDrainsEveryRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the main job as a process")
	}
	dir := t.TempDir()
	j := startMainJob(t, dir)
	require.NotEmpty(t, j.key, "the embedded default prints its demo key")
	m := usageRecordsLine.FindStringSubmatch(j.stdout.String())
	require.NotNil(t, m, j.stdout.String())
	assert.Equal(t, filepath.Join(dir, "llmgate-usage.jsonl"), m[1])
	assert.Contains(t, j.stdout.String(), "usage write-ahead log: "+filepath.Join(dir, "llmgate-usage.wal"))

	const max = 400
	answered := make(chan string, max)
	stop := make(chan struct{})
	wg := load(t, j.base, j.key, 8, max, stop, answered)
	var ids []string
	for range 24 { // mid-run: calls in flight when the signal comes
		ids = append(ids, <-answered)
	}
	assert.Equal(t, 0, j.signal(t, syscall.SIGTERM), "stderr:\n%s", j.stderr)
	close(stop)
	wg.Wait()
	close(answered)
	for id := range answered {
		ids = append(ids, id)
	}

	recs := readRecords(t, m[1])
	keys := make([]recordKey, len(recs))
	for i, r := range recs {
		keys[i] = recordKey{r.CallID, r.Attempt}
	}
	recorded := calls(uniqueKeys(t, "the JSONL file", keys))
	for _, id := range ids {
		assert.True(t, recorded[id], "call %s was answered but has no record", id)
	}
	assert.GreaterOrEqual(t, len(recorded), len(ids))
	assert.Contains(t, j.stderr.String(), "usage records drained")
	t.Logf("%d calls answered, %d records of %d calls", len(ids), len(recs), len(recorded))
}

// The main job killed with SIGKILL mid-run and started again: the replay of
// its write-ahead log completes the ledger, in PostgreSQL and in the JSONL
// file alike, with no (call_id, attempt) twice. The sinks are given nothing
// before the kill (a batch fills at 4096 records or after an hour), so what
// they hold afterwards came from the log.
func TestMainJobSIGKILLThenRestartCompletesTheLedger(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the main job as a process")
	}
	dsn, schema := postgresDSN(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	defer pool.Close()
	_, err = pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	require.NoError(t, err)

	dir := t.TempDir()
	records := filepath.Join(dir, "usage.jsonl")
	cfg := writeFile(t, "gateway.yaml", fmt.Sprintf(`providers:
  - {name: sim, type: sim, sim: {completion_tokens: 5}}
billing:
  sinks:
    jsonl: {path: %s}
    postgres: {dsn: %q, schema: %s, table: ledger}
  spill_dir: %s
  pipeline: {batch_size: 4096, flush_interval: 1h}
`, records, dsn, schema, filepath.Join(dir, "wal")))

	const concurrency, before, after = 8, 300, 50
	j := startMainJob(t, dir, "-config", cfg)
	assert.Contains(t, j.stdout.String(), "usage ledger: postgres table "+schema+".ledger\n")
	answered := make(chan string, 4*before)
	stop := make(chan struct{})
	wg := load(t, j.base, "any", concurrency, 4*before, stop, answered)
	var first []string
	for range before {
		first = append(first, <-answered)
	}
	assert.Equal(t, -1, j.signal(t, syscall.SIGKILL))
	close(stop)
	wg.Wait()
	close(answered)
	for id := range answered {
		first = append(first, id)
	}
	b, err := os.ReadFile(records)
	require.NoError(t, err)
	require.Empty(t, b, "no batch reached the sinks before the kill")
	var rowsBefore int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema, "ledger"}.Sanitize()).Scan(&rowsBefore))
	require.Zero(t, rowsBefore)
	inLog := loggedKeys(t, filepath.Join(dir, "wal"))

	j = startMainJob(t, dir, "-config", cfg)
	answered = make(chan string, after)
	wg = load(t, j.base, "any", concurrency, after, make(chan struct{}), answered)
	wg.Wait()
	close(answered)
	require.Len(t, answered, after)
	require.Equal(t, 0, j.signal(t, syscall.SIGTERM), "stderr:\n%s", j.stderr)

	recs := readRecords(t, records)
	keys := make([]recordKey, len(recs))
	for i, r := range recs {
		keys[i] = recordKey{r.CallID, r.Attempt}
	}
	inFile := uniqueKeys(t, "the JSONL file", keys)
	rows, err := pool.Query(ctx, "SELECT call_id, attempt FROM "+pgx.Identifier{schema, "ledger"}.Sanitize())
	require.NoError(t, err)
	keys = keys[:0]
	for rows.Next() {
		var k recordKey
		require.NoError(t, rows.Scan(&k.call, &k.attempt))
		keys = append(keys, k)
	}
	require.NoError(t, rows.Err())
	inLedger := uniqueKeys(t, "the ledger", keys)
	assert.Equal(t, inFile, inLedger, "both sinks hold the same records")

	for k := range inLog {
		assert.True(t, inLedger[k], "%v was in the log at the kill but not in the ledger", k)
	}
	recorded := calls(inLedger)
	for id := range answered {
		assert.True(t, recorded[id], "call %s, answered after the restart, has no row", id)
	}
	assert.Len(t, inLedger, len(inLog)+after, "the log's records and the new run's, nothing else")
	// A record reaches the log microseconds after its call ends, but the
	// kill loses the few still in memory (docs/billing-pipeline.md, "When
	// a record is durable"); how many depends on the scheduler, so only
	// the bulk is asserted here.
	missing := 0
	for _, id := range first {
		if !recorded[id] {
			missing++
		}
	}
	assert.Less(t, missing, len(first)/2, "of %d calls answered before the kill", len(first))
	t.Logf("%d calls answered before the kill, %d records in the log (%d calls without one), %d after the restart; %d rows",
		len(first), len(inLog), missing, after, len(inLedger))
}

// loggedKeys returns the keys of every record the write-ahead log in dir
// holds for its sinks, a JSONL file and the ledger, which must be the same.
func loggedKeys(t *testing.T, dir string) map[recordKey]bool {
	t.Helper()
	got := walKeys(t, dir, config.SinkJSONL, config.SinkPostgres)
	set := uniqueKeys(t, "the log", got[config.SinkJSONL])
	assert.Equal(t, set, uniqueKeys(t, "the log", got[config.SinkPostgres]), "the log holds the same records for both sinks")
	return set
}

// walKeys returns, by sink, the keys of the records the write-ahead log in
// dir holds for the sinks named, read by a Pipeline of the test's own on a
// copy of the directory (the original is left for the main job to replay).
func walKeys(t *testing.T, dir string, sinks ...string) map[string][]recordKey {
	t.Helper()
	cp := t.TempDir()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(cp, e.Name()), b, 0o600))
	}
	var mu sync.Mutex
	got := map[string][]recordKey{}
	collect := func(name string) billing.Sink {
		return billing.SinkFunc(func(_ context.Context, batch []billing.Record) error {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range batch {
				got[name] = append(got[name], recordKey{r.CallID, r.Attempt})
			}
			return nil
		})
	}
	named := map[string]billing.Sink{}
	for _, name := range sinks {
		named[name] = collect(name)
	}
	p, err := billing.NewPipeline(billing.PipelineConfig{Dir: cp, Sinks: named})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, p.Close(ctx))
	return got
}

// A drain that runs out of shutdown time leaves the rest in the write-ahead
// log, says so, and the next start delivers it: the ledger's schema is
// dropped while the gateway runs (every insert fails), it is stopped with a
// 1s shutdown timeout, the schema comes back, and the next run's drain
// stores every record once.
func TestMainJobUndrainedRecordsWaitForTheNextStart(t *testing.T) {
	dsn, schema := postgresDSN(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	defer pool.Close()
	ident := pgx.Identifier{schema}.Sanitize()
	_, err = pool.Exec(ctx, "CREATE SCHEMA "+ident)
	require.NoError(t, err)

	dir := t.TempDir()
	cfg := writeFile(t, "gateway.yaml", fmt.Sprintf(`shutdown_timeout: 1s
providers:
  - {name: sim, type: sim, sim: {completion_tokens: 5}}
billing:
  sinks:
    postgres: {dsn: %q, schema: %s, table: ledger}
  spill_dir: %s
  pipeline: {flush_interval: 10ms}
`, dsn, schema, filepath.Join(dir, "wal")))
	g := startGateway(t, "-config", cfg, "-addr", "127.0.0.1:0")
	assert.NotContains(t, g.stdout.String(), "usage records:", "no JSONL sink configured")
	_, err = pool.Exec(ctx, "DROP SCHEMA "+ident+" CASCADE")
	require.NoError(t, err)
	client := sdk(t, g.base, "any")
	const n = 20
	for range n {
		_, err := client.Chat.Completions.New(ctx, chatParams)
		require.NoError(t, err)
	}
	require.Equal(t, 0, g.stop())
	assert.Contains(t, g.stderr.String(), "the rest stays in the write-ahead log and is delivered at the next start")

	_, err = pool.Exec(ctx, "CREATE SCHEMA "+ident)
	require.NoError(t, err)
	g = startGateway(t, "-config", cfg, "-addr", "127.0.0.1:0")
	require.Equal(t, 0, g.stop())
	assert.Contains(t, g.stderr.String(), "usage records drained")
	var rows, keys int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*), count(DISTINCT (call_id, attempt)) FROM "+pgx.Identifier{schema, "ledger"}.Sanitize()).Scan(&rows, &keys))
	assert.Equal(t, n, rows)
	assert.Equal(t, n, keys)
}
