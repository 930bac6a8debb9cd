package billing

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// slowFsync starts a pipeline whose first fsync hangs until release is
// called, enqueues one record, and returns once that fsync has begun. The
// pipeline is closed (and the fsync released) at the test's end; after
// returns whether the hung fsync has been let go.
func slowFsync(t *testing.T) (p *Pipeline, release func(), after func() bool) {
	t.Helper()
	entered, released := make(chan struct{}), make(chan struct{})
	var once, releaseOnce sync.Once
	var done atomic.Bool
	p = startPipeline(t, PipelineConfig{Dir: t.TempDir(), Sinks: map[string]Sink{"s": newMemSink()}, SyncInterval: time.Millisecond},
		func(p *Pipeline) {
			p.wal.beforeSync = func() error {
				once.Do(func() {
					close(entered)
					<-released // the disk is slow: this fsync takes until the test says
					done.Store(true)
				})
				return nil
			}
		})
	release = func() { releaseOnce.Do(func() { close(released) }) }
	t.Cleanup(func() {
		release()
		closePipeline(t, p)
	})
	enqueueRange(t, p, 0, 1)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no fsync within 10s of the first append")
	}
	return p, release, done.Load
}

// A record is in the write-ahead log, and so survives the process being
// killed, soon after Enqueue even while an fsync takes long: the writer
// never waits for the disk. Before, the writer ran the SyncInterval fsync
// itself, and every record enqueued during a slow fsync stayed in memory
// until it returned, and a SIGKILL then lost them (one way the main job
// once kept 14 of 21 records after a SIGKILL and a restart).
func TestPipelineLogsRecordsWhileAnFsyncIsSlow(t *testing.T) {
	p, _, _ := slowFsync(t)
	enqueueRange(t, p, 1, 10) // while the fsync hangs
	require.Eventually(t, func() bool { return p.Stats().Logged == 10 }, 5*time.Second, time.Millisecond,
		"records enqueued during a slow fsync stayed out of the log: %d of 10 logged", p.Stats().Logged)
}

// Sync still waits for the disk when the background fsync, which has
// already taken the log's appends as synced, is running: it returns only
// once that fsync has.
func TestPipelineSyncWaitsForTheFsyncInProgress(t *testing.T) {
	p, release, fsynced := slowFsync(t)
	done := make(chan error, 1)
	go func() { done <- p.Sync(context.Background()) }()
	select {
	case err := <-done:
		t.Fatalf("Sync returned (%v) while the fsync covering its record still ran", err)
	case <-time.After(50 * time.Millisecond): // any wait shows it: Sync must not return before release
	}
	release()
	require.NoError(t, <-done)
	require.True(t, fsynced())
}

// A failed background fsync leaves the log to be synced again: a Sync
// after it fsyncs and reports that fsync's outcome. Before, the failed
// fsync had already taken the log as synced, so Sync returned nil without
// one, and its records were not durable.
func TestPipelineSyncAfterAFailedFsyncSyncsAgain(t *testing.T) {
	var fsyncs atomic.Int32
	failed := make(chan struct{})
	p := startPipeline(t, PipelineConfig{Dir: t.TempDir(), Sinks: map[string]Sink{"s": newMemSink()}, SyncInterval: time.Millisecond},
		func(p *Pipeline) {
			p.wal.beforeSync = func() error {
				if fsyncs.Add(1) == 1 {
					defer close(failed)
					return errors.New("disk says no") // the background fsync fails
				}
				return nil
			}
		})
	defer closePipeline(t, p)
	enqueueRange(t, p, 0, 1)
	select {
	case <-failed:
	case <-time.After(10 * time.Second):
		t.Fatal("no fsync within 10s of the first append")
	}
	require.NoError(t, p.Sync(context.Background()))
	require.Equal(t, int32(2), fsyncs.Load(), "Sync found the log clean after a failed fsync")
	require.Positive(t, p.Stats().LogErrors, "the failed background fsync is counted")
}
