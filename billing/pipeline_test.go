package billing

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/gatewaytest"
)

func TestPipelineDeliversEveryRecordOnceToEverySink(t *testing.T) {
	a, b := newMemSink(), newMemSink()
	p, err := NewPipeline(PipelineConfig{Dir: t.TempDir(), Sinks: map[string]Sink{"a": a, "b": b}, Buffer: 256, BatchSize: 100})
	require.NoError(t, err)
	enqueueAll(t, p, 10_000, 8)
	closePipeline(t, p)

	for _, s := range []*memSink{a, b} {
		s.requireAll(t, 10_000)
		assert.LessOrEqual(t, s.maxBatch(), 100)
	}
	st := p.Stats()
	assert.Equal(t, uint64(10_000), st.Enqueued)
	assert.Equal(t, uint64(10_000), st.Logged+st.Spilled)
	assert.Zero(t, st.Dropped)
	for _, name := range []string{"a", "b"} {
		assert.Equal(t, uint64(10_000), st.Sinks[name].Written, name)
	}
}

// RELIABILITY.md case 20 at the pipeline itself: 100k records from 64
// goroutines, far faster than the writer logs them (so the buffer fills,
// producers park and spill), then Close: every record exactly once, each
// counted once. TestHundredThousandCallsThroughTheMeterIntoPostgres runs
// the same count end to end.
func TestPipelineHundredThousandFrom64Goroutines(t *testing.T) {
	s := newMemSink()
	p, err := NewPipeline(PipelineConfig{Dir: t.TempDir(), Sinks: map[string]Sink{"s": s}, Buffer: 1024, BatchSize: 2048})
	require.NoError(t, err)
	const n = 100_000
	enqueueAll(t, p, n, 64)
	closePipeline(t, p)
	s.requireAll(t, n)
	for k, c := range s.deliv {
		require.Equal(t, 1, c, "%v delivered %d times", k, c)
	}
	st := p.Stats()
	assert.Equal(t, uint64(n), st.Enqueued)
	assert.Equal(t, uint64(n), st.Logged+st.Spilled)
	assert.Equal(t, uint64(n), st.Sinks["s"].Written)
	assert.Zero(t, st.Dropped+st.Rejected+st.Sinks["s"].DeadLettered)
	t.Logf("blocked %d, spilled %d, read back from the log %d", st.Blocked, st.Spilled, st.Sinks["s"].FromLog)
}

// Batches are flushed by size at once, and a short batch when
// FlushInterval has passed on the pipeline's clock, not before.
func TestPipelineFlushesBySizeOrByTime(t *testing.T) {
	clk := gatewaytest.NewClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	s := newMemSink()
	p, err := NewPipeline(PipelineConfig{Dir: t.TempDir(), Sinks: map[string]Sink{"s": s}, BatchSize: 100, FlushInterval: time.Second, Clock: clk})
	require.NoError(t, err)
	defer closePipeline(t, p)

	for i := range 100 {
		require.NoError(t, p.Enqueue(testRecord(i)))
	}
	require.Eventually(t, func() bool { return s.count() == 100 }, 5*time.Second, time.Millisecond, "a full batch waits for no timer")

	for i := 100; i < 105; i++ {
		require.NoError(t, p.Enqueue(testRecord(i)))
	}
	require.NoError(t, p.Sync(context.Background()))
	require.True(t, clk.WaitForTimers(1, 5*time.Second), "the worker arms its flush timer")
	clk.Advance(999 * time.Millisecond)
	time.Sleep(10 * time.Millisecond) // give a wrong early flush the chance to show
	assert.Equal(t, 100, s.count(), "a short batch waits for FlushInterval")
	clk.Advance(time.Millisecond)
	require.Eventually(t, func() bool { return s.count() == 105 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, []int{100, 5}, s.sizes)
}

// Sync returns once every record accepted before it is in the log: a
// reader of the log's files finds them all.
func TestPipelineSyncPutsEveryAcceptedRecordInTheLog(t *testing.T) {
	release := make(chan struct{})
	s := newMemSink()
	s.setFail(func(context.Context, []Record) error { <-release; return nil }) // nothing is acknowledged meanwhile
	dir := t.TempDir()
	p, err := NewPipeline(PipelineConfig{Dir: dir, Sinks: map[string]Sink{"s": s}})
	require.NoError(t, err)
	enqueueAll(t, p, 3000, 8)
	require.NoError(t, p.Sync(context.Background()))

	rd := newWALReader(p.wal, walPos{1, 0})
	defer rd.closeFile()
	got, corrupt, err := rd.read(nil, 10_000, p.wal.end())
	require.NoError(t, err)
	assert.Zero(t, corrupt)
	assert.Len(t, got, 3000)
	close(release)
	closePipeline(t, p)
}

// While a sink worker waits for its flush, the records the writer hands it
// wait in its queue: the worker is not woken for each (a thread's wake on
// every call's path). A batch's worth wakes it at once, and the flush
// takes what waited.
func TestSinkWorkerIsNotWokenPerRecord(t *testing.T) {
	clk := gatewaytest.NewClock(time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC))
	s := newMemSink()
	p, err := NewPipeline(PipelineConfig{Dir: t.TempDir(), Sinks: map[string]Sink{"s": s}, BatchSize: 100, FlushInterval: time.Second, Clock: clk})
	require.NoError(t, err)
	defer closePipeline(t, p)
	w := p.sinks[0]

	require.NoError(t, p.Enqueue(testRecord(0)))
	require.Eventually(t, func() bool { return w.pendingN.Load() == 1 }, 5*time.Second, time.Millisecond, "the first record wakes the worker")
	require.True(t, clk.WaitForTimers(1, 5*time.Second), "the worker arms its flush timer")
	q0 := w.queued.Load() // the worker may have read the first from the log, its batch still queued
	for i := 1; i <= 10; i++ {
		require.NoError(t, p.Enqueue(testRecord(i)))
	}
	require.Eventually(t, func() bool { return w.queued.Load() == q0+10 }, 5*time.Second, time.Millisecond, "the writer hands the records over")
	for range 20 { // a worker woken per record takes them within microseconds
		time.Sleep(time.Millisecond)
		require.Equal(t, q0+10, w.queued.Load(), "the waiting worker took records before its flush")
		require.Equal(t, int64(1), w.pendingN.Load())
	}

	for i := 11; i < 100; i++ {
		require.NoError(t, p.Enqueue(testRecord(i)))
	}
	require.Eventually(t, func() bool { return s.count() == 100 }, 5*time.Second, time.Millisecond, "a batch's worth waits for no timer")
	require.NoError(t, p.Enqueue(testRecord(100)))
	require.Eventually(t, func() bool { return w.pendingN.Load() == 1 }, 5*time.Second, time.Millisecond)
	require.NoError(t, p.Enqueue(testRecord(101)))
	require.Eventually(t, func() bool { return w.queued.Load() == 1 }, 5*time.Second, time.Millisecond)
	require.True(t, clk.WaitForTimers(1, 5*time.Second), "the worker arms its flush timer")
	clk.Advance(time.Second)
	require.Eventually(t, func() bool { return s.count() == 102 }, 5*time.Second, time.Millisecond, "the flush takes the queued record too")
	assert.Equal(t, []int{100, 2}, s.sizes)
}
