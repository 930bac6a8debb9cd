package billing

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/gatewaytest"
)

func batchOf(from, n int) []Record {
	b := make([]Record, n)
	for i := range b {
		b[i] = testRecord(from + i)
	}
	return b
}

func TestJSONLWritesEachRecordOnceAcrossRetriesAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.jsonl")
	ctx := context.Background()
	j, err := NewJSONL(JSONLConfig{Path: path})
	require.NoError(t, err)
	require.NoError(t, j.Write(ctx, batchOf(0, 10)))
	require.NoError(t, j.Write(ctx, batchOf(5, 10))) // a retry overlapping the last batch
	require.NoError(t, j.Close())

	j, err = NewJSONL(JSONLConfig{Path: path}) // a restart replaying its in-flight batch
	require.NoError(t, err)
	require.NoError(t, j.Write(ctx, batchOf(10, 10)))
	require.NoError(t, j.Close())

	seen := jsonlKeys(t, path)
	assert.Len(t, seen, 20)
	for k, n := range seen {
		assert.Equal(t, 1, n, "%v", k)
	}
	got := readLines(t, path)
	assert.Equal(t, testRecord(3), got[3], "a line decodes to the record written")
}

func TestJSONLCutsATornLastLineOnOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.jsonl")
	r := testRecord(1)
	line, err := encodeLine(nil, &r)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, append(line, `{"call_id":"call-2","at`...), 0o644))
	j, err := NewJSONL(JSONLConfig{Path: path})
	require.NoError(t, err)
	require.NoError(t, j.Write(context.Background(), batchOf(1, 3)))
	require.NoError(t, j.Close())
	assert.Len(t, readLines(t, path), 3, "call-1 once, then call-2 and call-3 whole")
}

func TestJSONLRotatesBySize(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "usage.jsonl")
	j, err := NewJSONL(JSONLConfig{Path: path, MaxBytes: 4 << 10})
	require.NoError(t, err)
	for i := range 20 {
		require.NoError(t, j.Write(context.Background(), batchOf(i*10, 10)))
	}
	require.NoError(t, j.Close())
	files, err := filepath.Glob(filepath.Join(dir, "usage*.jsonl"))
	require.NoError(t, err)
	assert.Greater(t, len(files), 5)
	total := 0
	for _, f := range files {
		fi, err := os.Stat(f)
		require.NoError(t, err)
		assert.LessOrEqual(t, fi.Size(), int64(4<<10), f)
		total += len(readLines(t, f))
	}
	assert.Equal(t, 200, total)
}

func TestJSONLRotatesDaily(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "usage.jsonl")
	clk := gatewaytest.NewClock(time.Date(2026, 12, 1, 23, 59, 0, 0, time.UTC))
	j, err := NewJSONL(JSONLConfig{Path: path, Daily: true, Clock: clk})
	require.NoError(t, err)
	require.NoError(t, j.Write(context.Background(), batchOf(0, 2)))
	clk.Advance(30 * time.Second)
	require.NoError(t, j.Write(context.Background(), batchOf(2, 2))) // same day: same file
	clk.Advance(time.Minute)
	require.NoError(t, j.Write(context.Background(), batchOf(4, 2)))
	require.NoError(t, j.Close())

	rotated, err := filepath.Glob(filepath.Join(dir, "usage-20261202T*.jsonl"))
	require.NoError(t, err)
	require.Len(t, rotated, 1)
	assert.Len(t, readLines(t, rotated[0]), 4)
	assert.Len(t, readLines(t, path), 2)
}

func TestJSONLHonoursAnEndedContext(t *testing.T) {
	j, err := NewJSONL(JSONLConfig{Path: filepath.Join(t.TempDir(), "u.jsonl")})
	require.NoError(t, err)
	defer j.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, j.Write(ctx, batchOf(0, 1)), context.Canceled)
}

func TestJSONLConfigValidate(t *testing.T) {
	err := JSONLConfig{MaxBytes: -1, DedupWindow: -1}.Validate()
	require.Error(t, err)
	for _, want := range []string{"Path is required", "MaxBytes is negative", "DedupWindow is negative"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestDedupWindowForgetsTheOldestFirst(t *testing.T) {
	d := newDedupWindow(3)
	for i := range 5 {
		d.add(recordKey{"c", i})
	}
	for i, want := range []bool{false, false, true, true, true} {
		assert.Equal(t, want, d.has(recordKey{"c", i}), "key %d", i)
	}
	assert.Len(t, d.set, 3)
}
