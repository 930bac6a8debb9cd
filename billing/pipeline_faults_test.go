package billing

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fastRetries keeps fault tests quick: the counts, not the waits, are checked.
func fastRetries(cfg PipelineConfig) PipelineConfig {
	cfg.RetryBase, cfg.RetryMax = time.Millisecond, 2*time.Millisecond
	cfg.FlushInterval = 5 * time.Millisecond
	return cfg.withDefaults()
}

func startPipeline(t *testing.T, cfg PipelineConfig, setup func(*Pipeline)) *Pipeline {
	t.Helper()
	require.NoError(t, cfg.Validate())
	p, err := newPipeline(fastRetries(cfg), setup)
	require.NoError(t, err)
	return p
}

// RELIABILITY.md case 22: more pending records than one batch are all
// written, in batches no larger than BatchSize.
func TestPipelineWritesMorePendingThanOneBatch(t *testing.T) {
	s := newMemSink()
	release := make(chan struct{})
	var first atomic.Bool
	s.setFail(func(ctx context.Context, _ []Record) error {
		if first.CompareAndSwap(false, true) {
			<-release // let the backlog pile up behind the first batch
		}
		return nil
	})
	p := startPipeline(t, PipelineConfig{Dir: t.TempDir(), Sinks: map[string]Sink{"s": s}, BatchSize: 10}, nil)
	enqueueAll(t, p, 1005, 1)
	close(release)
	closePipeline(t, p)
	s.requireAll(t, 1005)
	assert.LessOrEqual(t, s.maxBatch(), 10)
	assert.GreaterOrEqual(t, len(s.sizes), 101)
}

// Issue 11: the sink down for a while and back loses nothing; RELIABILITY.md
// case 21: a failing flush is retried, not dropped.
func TestPipelineSinkDownAndBackLosesNothing(t *testing.T) {
	s := newMemSink()
	var fails atomic.Int32
	s.setFail(func(context.Context, []Record) error {
		if fails.Add(1) <= 40 {
			return errors.New("connection refused")
		}
		return nil
	})
	p := startPipeline(t, PipelineConfig{Dir: t.TempDir(), Sinks: map[string]Sink{"s": s}, BatchSize: 100, RetryAttempts: 1000}, nil)
	enqueueAll(t, p, 5000, 4)
	closePipeline(t, p)
	s.requireAll(t, 5000)
	st := p.Stats().Sinks["s"]
	assert.Equal(t, uint64(40), st.Retries)
	assert.Equal(t, uint64(5000), st.Written)
	assert.Zero(t, st.DeadLettered)
	assert.Equal(t, "connection refused", st.LastError)
}

// RELIABILITY.md case 21: a sink cancelled mid-flush (its write outlives
// WriteTimeout) is retried; one that keeps failing is dead-lettered, whole,
// while the other sink gets every record.
func TestPipelineCancelledFlushIsRetriedThenDeadLettered(t *testing.T) {
	slow := newMemSink()
	var calls atomic.Int32
	slow.setFail(func(ctx context.Context, _ []Record) error {
		if calls.Add(1) <= 3 {
			<-ctx.Done() // hangs until the pipeline cancels it
			return ctx.Err()
		}
		return nil
	})
	broken := SinkFunc(func(ctx context.Context, _ []Record) error { return errors.New("permission denied") })
	good := newMemSink()
	dir := t.TempDir()
	p := startPipeline(t, PipelineConfig{Dir: dir, Sinks: map[string]Sink{"slow": slow, "broken": broken, "good": good},
		WriteTimeout: 20 * time.Millisecond, RetryAttempts: 5}, nil)
	enqueueAll(t, p, 300, 2)
	closePipeline(t, p)

	slow.requireAll(t, 300)
	good.requireAll(t, 300)
	st := p.Stats()
	assert.Equal(t, uint64(3), st.Sinks["slow"].Retries)
	assert.Zero(t, st.Sinks["slow"].DeadLettered)
	assert.Equal(t, uint64(300), st.Sinks["broken"].DeadLettered)
	assert.Zero(t, st.Sinks["broken"].Written)

	dead := readLines(t, filepath.Join(dir, "deadletter-broken.jsonl"))
	require.Len(t, dead, 300)
	for i, r := range dead {
		assert.Equal(t, "call-", r.CallID[:5], "line %d", i)
	}
}

// A sink that returns nil after its context ended is not known to have
// stored the batch: it is offered again.
func TestPipelineRetriesASinkThatSaysNilAfterItsContextEnded(t *testing.T) {
	s := newMemSink()
	var calls atomic.Int32
	s.setFail(func(ctx context.Context, _ []Record) error {
		if calls.Add(1) == 1 {
			<-ctx.Done()
		}
		return nil
	})
	p := startPipeline(t, PipelineConfig{Dir: t.TempDir(), Sinks: map[string]Sink{"s": s}, WriteTimeout: 10 * time.Millisecond}, nil)
	enqueueAll(t, p, 10, 1)
	closePipeline(t, p)
	s.requireAll(t, 10)
	assert.Equal(t, uint64(1), p.Stats().Sinks["s"].Retries)
}

// One slow sink never stalls the others, nor the request path: its backlog
// (far more than the buffer holds) waits in the log.
func TestPipelineSlowSinkDoesNotStallOthers(t *testing.T) {
	stuck, fast := newMemSink(), newMemSink()
	release := make(chan struct{})
	stuck.setFail(func(context.Context, []Record) error { <-release; return nil })
	p := startPipeline(t, PipelineConfig{Dir: t.TempDir(), Sinks: map[string]Sink{"stuck": stuck, "fast": fast}, Buffer: 64, BatchSize: 32}, nil)
	const n = 5000
	enqueueAll(t, p, n, 4)
	require.Eventually(t, func() bool { return fast.count() == n }, 10*time.Second, time.Millisecond)
	assert.Zero(t, stuck.count())
	close(release)
	closePipeline(t, p)
	stuck.requireAll(t, n)
	fast.requireAll(t, n)
	st := p.Stats()
	assert.Positive(t, st.Sinks["stuck"].FromLog, "the stuck sink caught up from the log")
	assert.Zero(t, st.Dropped)
}

// RELIABILITY.md case 23: a full buffer blocks Enqueue up to BlockTimeout,
// then spills to the log; every block and spill is counted and every
// record still arrives once.
func TestPipelineFullBufferBlocksThenSpillsAndCountsIt(t *testing.T) {
	s := newMemSink()
	release := make(chan struct{})
	var once sync.Once
	stall := func() { once.Do(func() { <-release }) }
	p := startPipeline(t, PipelineConfig{Dir: t.TempDir(), Sinks: map[string]Sink{"s": s}, Buffer: 4, BlockTimeout: 2 * time.Millisecond},
		func(p *Pipeline) { p.beforeLog = stall })
	const n = 40
	enqueueAll(t, p, n, 1)
	st := p.Stats()
	assert.Equal(t, uint64(n), st.Enqueued)
	assert.Positive(t, st.Spilled)
	assert.GreaterOrEqual(t, st.Blocked, st.Spilled, "a spill is always counted as a block first")
	assert.LessOrEqual(t, st.Blocked-st.Spilled, uint64(n/2), "most blocked calls waited out BlockTimeout: the writer was stalled")
	close(release)
	closePipeline(t, p)
	s.requireAll(t, n)
	st = p.Stats()
	assert.Equal(t, uint64(n), st.Logged+st.Spilled)
	assert.GreaterOrEqual(t, st.Sinks["s"].FromLog, st.Spilled)
	assert.Zero(t, st.Dropped)
}

// A full buffer and a log at MaxDiskBytes: the record is refused with
// ErrDropped and counted, never lost without a word.
func TestPipelineDropsOnlyWithAnErrorAndCountsIt(t *testing.T) {
	s := newMemSink()
	release := make(chan struct{})
	s.setFail(func(context.Context, []Record) error { <-release; return nil }) // the sink is down too
	var once sync.Once
	p := startPipeline(t, PipelineConfig{Dir: t.TempDir(), Sinks: map[string]Sink{"s": s}, Buffer: 2,
		BlockTimeout: time.Millisecond, SegmentBytes: 1024, MaxDiskBytes: 2048},
		func(p *Pipeline) { p.beforeLog = func() { once.Do(func() { <-release }) } })
	var accepted []int
	dropped := 0
	for i := range 30 {
		err := p.Enqueue(testRecord(i))
		switch {
		case err == nil:
			accepted = append(accepted, i)
		case errors.Is(err, ErrDropped):
			dropped++
		default:
			t.Fatalf("record %d: %v", i, err)
		}
	}
	require.Positive(t, dropped)
	assert.Equal(t, uint64(dropped), p.Stats().Dropped)
	close(release)
	closePipeline(t, p)
	assert.Equal(t, len(accepted), s.count())
	for _, i := range accepted {
		assert.Contains(t, s.got, recordKey{testRecord(i).CallID, 1})
	}
}

// Close's context ending while a sink is down loses nothing: the next
// pipeline on the same Dir delivers what was not acknowledged.
func TestPipelineAbortedCloseLeavesTheRestForTheNextStart(t *testing.T) {
	dir := t.TempDir()
	down := SinkFunc(func(context.Context, []Record) error { return errors.New("down") })
	p := startPipeline(t, PipelineConfig{Dir: dir, Sinks: map[string]Sink{"s": down}, RetryAttempts: 1000}, nil)
	enqueueAll(t, p, 700, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := p.Close(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, err, p.Close(context.Background()), "Close again returns the first result")

	s := newMemSink()
	p2 := startPipeline(t, PipelineConfig{Dir: dir, Sinks: map[string]Sink{"s": s}}, nil)
	closePipeline(t, p2)
	s.requireAll(t, 700)
	assert.Equal(t, uint64(700), p2.Stats().Sinks["s"].FromLog)
}

func TestPipelineRefusesRecordsAfterClose(t *testing.T) {
	p := startPipeline(t, PipelineConfig{Dir: t.TempDir(), Sinks: map[string]Sink{"s": newMemSink()}}, nil)
	closePipeline(t, p)
	require.ErrorIs(t, p.Enqueue(testRecord(1)), ErrClosed)
	assert.Equal(t, uint64(1), p.Stats().Rejected)
	assert.Zero(t, p.Stats().Enqueued)
}

// A torn last line (a crash mid-write) is skipped and counted; the lines
// before it are replayed.
func TestPipelineReplaySkipsATornLastLine(t *testing.T) {
	dir := t.TempDir()
	var lines []byte
	for i := range 4 {
		r := testRecord(i)
		lines, _ = appendFrame(lines, &r)
	}
	lines = lines[:len(lines)-5] // the last frame's write was cut short
	require.NoError(t, os.WriteFile(filepath.Join(dir, segName(1)), lines, 0o600))
	s := newMemSink()
	p := startPipeline(t, PipelineConfig{Dir: dir, Sinks: map[string]Sink{"s": s}}, nil)
	closePipeline(t, p)
	s.requireAll(t, 3)
	assert.Equal(t, uint64(1), p.Stats().Sinks["s"].Corrupt)
}

func TestPipelineRefusesASecondPipelineOnItsDir(t *testing.T) {
	dir := t.TempDir()
	p := startPipeline(t, PipelineConfig{Dir: dir, Sinks: map[string]Sink{"s": newMemSink()}}, nil)
	defer closePipeline(t, p)
	_, err := NewPipeline(PipelineConfig{Dir: dir, Sinks: map[string]Sink{"s": newMemSink()}})
	require.ErrorIs(t, err, ErrDirInUse)
}

func TestPipelineConfigValidateJoinsEveryBadField(t *testing.T) {
	err := PipelineConfig{Sinks: map[string]Sink{"Bad Name": nil}, Buffer: -1, BlockTimeout: -1, RetryBase: time.Minute}.Validate()
	require.Error(t, err)
	for _, want := range []string{"Dir is required", `"Bad Name"`, `["Bad Name"] is nil`, "Buffer is negative", "BlockTimeout is negative", "RetryBase 1m0s is over RetryMax"} {
		assert.Contains(t, err.Error(), want)
	}
	_, err = NewPipeline(PipelineConfig{})
	require.Error(t, err)
}

func readLines(t *testing.T, path string) []Record {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r Record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		out = append(out, r)
	}
	return out
}

// Restarts with nothing to deliver keep the log's numbering ahead of the
// sinks' cursors, and a cursor past the log (files removed by hand) starts
// over instead of waiting forever.
func TestPipelineDeliversAfterRestartsAndARemovedLog(t *testing.T) {
	dir := t.TempDir()
	s := newMemSink()
	run := func(from, n int) {
		p := startPipeline(t, PipelineConfig{Dir: dir, Sinks: map[string]Sink{"s": s}}, nil)
		enqueueRange(t, p, from, from+n)
		closePipeline(t, p)
	}
	run(0, 10)
	run(10, 0)
	run(10, 0)
	run(10, 10)
	segs, err := filepath.Glob(filepath.Join(dir, "*"+walSuffix))
	require.NoError(t, err)
	for _, f := range segs {
		require.NoError(t, os.Remove(f))
	}
	run(20, 10)
	s.requireAll(t, 30)
}

// A dead-letter file at its bound refuses the batch: it stays in the log
// and is offered to the sink again, so it is delivered once the sink works.
func TestPipelineKeepsABatchWhenItsDeadLetterFileIsFull(t *testing.T) {
	s := newMemSink()
	var calls atomic.Int32
	s.setFail(func(context.Context, []Record) error {
		if calls.Add(1) <= 8 {
			return errors.New("refused")
		}
		return nil
	})
	dir := t.TempDir()
	p := startPipeline(t, PipelineConfig{Dir: dir, Sinks: map[string]Sink{"s": s}, RetryAttempts: 2, SegmentBytes: 512, MaxDiskBytes: 1 << 20},
		func(p *Pipeline) { p.sinks[0].dead.max = 1 })
	enqueueRange(t, p, 0, 10)
	closePipeline(t, p)
	s.requireAll(t, 10)
	st := p.Stats().Sinks["s"]
	assert.Zero(t, st.DeadLettered)
	assert.Equal(t, uint64(8), st.Retries)
	_, err := os.Stat(filepath.Join(dir, "deadletter-s.jsonl"))
	assert.True(t, err == nil || errors.Is(err, os.ErrNotExist))
}

// A sink that panics is retried like one that fails, and the panic is its
// last error.
func TestPipelineRecoversAPanickingSink(t *testing.T) {
	s := newMemSink()
	var calls atomic.Int32
	s.setFail(func(context.Context, []Record) error {
		if calls.Add(1) == 1 {
			panic("sink bug")
		}
		return nil
	})
	p := startPipeline(t, PipelineConfig{Dir: t.TempDir(), Sinks: map[string]Sink{"s": s}}, nil)
	enqueueRange(t, p, 0, 10)
	closePipeline(t, p)
	s.requireAll(t, 10)
	st := p.Stats().Sinks["s"]
	assert.Equal(t, uint64(1), st.Retries)
	assert.Contains(t, st.LastError, "sink bug")
}

// A record reaches every sink in one representation, UTC, whether the sink
// got it from memory or read it back from the log.
func TestPipelineDeliversTimesInUTCEitherWay(t *testing.T) {
	s := newMemSink()
	p := startPipeline(t, PipelineConfig{Dir: t.TempDir(), Sinks: map[string]Sink{"s": s}}, nil)
	r := testRecord(1)
	r.Time = r.Time.In(time.FixedZone("CET", 3600))
	require.NoError(t, p.Enqueue(r))
	closePipeline(t, p)
	got := s.got[recordKey{r.CallID, 1}]
	assert.Equal(t, testRecord(1).Time, got.Time)
	assert.Equal(t, time.UTC, got.Time.Location())
}
