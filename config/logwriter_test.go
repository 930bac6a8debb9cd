package config

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/gatewaytest"
)

// Lines written concurrently all arrive, each whole, by the time Close
// returns.
func TestLogWriterKeepsEveryLineWhole(t *testing.T) {
	dst := newSyncBuffer()
	w := newLogWriter(dst)
	const writers, lines = 8, 500
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range lines {
				_, _ = fmt.Fprintf(w, "writer=%d line=%d %s\n", g, i, strings.Repeat("x", i%97))
			}
		})
	}
	wg.Wait()
	require.NoError(t, w.Close())
	got := strings.Split(strings.TrimSuffix(dst.String(), "\n"), "\n")
	require.Len(t, got, writers*lines)
	seen := map[string]bool{}
	for _, l := range got {
		var g, i int
		_, err := fmt.Sscanf(l, "writer=%d line=%d", &g, &i)
		require.NoError(t, err, l)
		assert.Equal(t, fmt.Sprintf("writer=%d line=%d %s", g, i, strings.Repeat("x", i%97)), l)
		seen[l] = true
	}
	assert.Len(t, seen, writers*lines, "no line twice")
}

// An idle writer's line reaches the destination without waiting for more
// lines or for Close.
func TestLogWriterWritesAnIdleLineAtOnce(t *testing.T) {
	dst := newSyncBuffer()
	w := newLogWriter(dst)
	defer w.Close()
	_, _ = w.Write([]byte("one\n"))
	bound := time.NewTimer(10 * time.Second) // only if it never arrives
	defer bound.Stop()
	for dst.String() != "one\n" {
		select {
		case <-dst.Changed():
		case <-bound.C:
			t.Fatal("the line was not written")
		}
	}
}

// countingWriter counts the Writes that reach a syncBuffer.
type countingWriter struct {
	*syncBuffer
	writes atomic.Int32
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.syncBuffer.Write(p)
}

// waitFor waits until dst holds want, for at most 10 s (only if it never
// does).
func waitFor(t *testing.T, dst *countingWriter, want string) {
	t.Helper()
	bound := time.NewTimer(10 * time.Second)
	defer bound.Stop()
	for dst.String() != want {
		select {
		case <-dst.Changed():
		case <-bound.C:
			t.Fatalf("the log holds %q, want %q", dst.String(), want)
		}
	}
}

// Lines that come within logLinger of the last write wait for the rest of
// it and go out together in one write: under load the writer writes, and
// is woken, once per logLinger, not once per few lines.
func TestLogWriterGathersTheLinesOfALinger(t *testing.T) {
	clk := gatewaytest.NewClock(time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC))
	dst := &countingWriter{syncBuffer: newSyncBuffer()}
	w := newLogWriterClock(dst, clk)
	defer w.Close()

	_, _ = w.Write([]byte("first\n"))
	waitFor(t, dst, "first\n") // the first line of an idle writer: at once
	_, _ = w.Write([]byte("line 0\n"))
	require.True(t, clk.WaitForTimers(1, 10*time.Second), "the writer lingers on the clock")
	want := "first\nline 0\n"
	for i := 1; i < 50; i++ {
		line := fmt.Sprintf("line %d\n", i)
		_, _ = w.Write([]byte(line))
		want += line
	}
	assert.Equal(t, "first\n", dst.String(), "nothing is written while the writer lingers")
	clk.Advance(logLinger)
	waitFor(t, dst, want)
	assert.Equal(t, int32(2), dst.writes.Load(), "the 50 lines of the linger went out in one write")

	// Once logLinger has passed since the last write, a line goes out at once.
	clk.Advance(logLinger)
	_, _ = w.Write([]byte("later\n"))
	waitFor(t, dst, want+"later\n")
	assert.Equal(t, int32(3), dst.writes.Load())
}

// lingeringLogWriter returns a log writer on a fake clock that has written
// "first\n" and lingers with "second\n" gathered: the clock has not moved.
func lingeringLogWriter(t *testing.T) (*logWriter, *countingWriter, *gatewaytest.Clock) {
	t.Helper()
	clk := gatewaytest.NewClock(time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC))
	dst := &countingWriter{syncBuffer: newSyncBuffer()}
	w := newLogWriterClock(dst, clk)
	_, _ = w.Write([]byte("first\n"))
	waitFor(t, dst, "first\n")
	_, _ = w.Write([]byte("second\n"))
	require.True(t, clk.WaitForTimers(1, 10*time.Second), "the writer lingers on the clock")
	return w, dst, clk
}

// A line that comes while the writer lingers leaves its wake token for
// the writer to find when the linger ends: the writer is not woken for it
// (it was, once per line, to consume the token, which on an idle machine
// cost each call a thread's wake). After the linger the token is gone with
// the lines it announced, so the writer does not wake once more for nothing.
func TestLogWriterLingerIsNotWokenByLines(t *testing.T) {
	w, dst, clk := lingeringLogWriter(t)
	defer w.Close()
	_, _ = w.Write([]byte("third\n"))
	// A writer that takes tokens while it lingers takes this one within
	// microseconds; give it far longer than that.
	for range 50 {
		require.Len(t, w.wake, 1, "the lingering writer took the token of a line")
		time.Sleep(time.Millisecond)
	}
	clk.Advance(logLinger)
	waitFor(t, dst, "first\nsecond\nthird\n")
	w.mu.Lock()
	tokens := len(w.wake)
	w.mu.Unlock()
	assert.Zero(t, tokens, "the token of lines already written is still there, to wake the writer for nothing")
}

// Half of maxPendingLog gathered ends a linger at once: a busy log (a big
// machine's) goes out as it fills, and no call waits for the linger's
// timer with the buffer full.
func TestLogWriterFullBufferEndsALinger(t *testing.T) {
	w, dst, _ := lingeringLogWriter(t)
	defer w.Close()
	big := strings.Repeat("x", maxPendingLog/2) + "\n"
	_, _ = w.Write([]byte(big))
	waitFor(t, dst, "first\nsecond\n"+big) // the clock never moved
}

// Close ends a linger at once and writes what it gathered: it does not
// wait for the clock.
func TestLogWriterCloseEndsALinger(t *testing.T) {
	w, dst, _ := lingeringLogWriter(t)
	closed := make(chan struct{})
	go func() {
		_ = w.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second): // only if Close waits for the fake clock
		t.Fatal("Close waited for the linger")
	}
	assert.Equal(t, "first\nsecond\n", dst.String())
}

// blockedWriter blocks every Write until release is closed.
type blockedWriter struct {
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (b *blockedWriter) Write(p []byte) (int, error) {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-b.release
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// A destination that does not keep up makes Write wait once maxPendingLog
// bytes are pending, instead of buffering without bound; nothing is lost.
func TestLogWriterBoundsWhatIsPending(t *testing.T) {
	dst := &blockedWriter{entered: make(chan struct{}, 1), release: make(chan struct{})}
	w := newLogWriter(dst)
	_, _ = w.Write([]byte("first\n"))
	<-dst.entered // the goroutine holds "first" and is blocked in dst
	line := []byte(strings.Repeat("y", 1023) + "\n")
	for range maxPendingLog / len(line) {
		_, _ = w.Write(line)
	}
	returned := make(chan struct{})
	go func() {
		_, _ = w.Write([]byte("over\n"))
		close(returned)
	}()
	for range 100 {
		runtime.Gosched()
	}
	select {
	case <-returned:
		t.Fatal("a Write past the bound returned while the destination was blocked")
	default:
	}
	close(dst.release)
	<-returned
	require.NoError(t, w.Close())
	assert.Equal(t, len("first\n")+maxPendingLog/len(line)*len(line)+len("over\n"), dst.buf.Len())
	assert.True(t, strings.HasSuffix(dst.buf.String(), "\nover\n"))
}

// After Close, a Write goes straight to the destination.
func TestLogWriterAfterClose(t *testing.T) {
	dst := newSyncBuffer()
	w := newLogWriter(dst)
	_, _ = w.Write([]byte("before\n"))
	require.NoError(t, w.Close())
	require.NoError(t, w.Close(), "a second Close is harmless")
	n, err := w.Write([]byte("after\n"))
	require.NoError(t, err)
	assert.Equal(t, 6, n)
	assert.Equal(t, "before\nafter\n", dst.String())
}

// BenchmarkLogLine measures one access-log-sized line written to a file by
// slog, straight ("direct") and through logWriter, from parallel callers.
func BenchmarkLogLine(b *testing.B) {
	for _, name := range []string{"direct", "logWriter"} {
		b.Run(name, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "log"))
			require.NoError(b, err)
			defer f.Close()
			var dst io.Writer = f
			if name == "logWriter" {
				lw := newLogWriter(f)
				defer lw.Close()
				dst = lw
			}
			logger := slog.New(slog.NewTextHandler(dst, nil))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					logger.Info("request", "id", "req-0123456789abcdef", "op", "chat", "status", 200,
						"dur", 2*time.Millisecond, "model", "gpt-4o-mini", "attempts", "mock:200")
				}
			})
		})
	}
}

// logInfo writes the line LogAttrs writes, and nothing when Info is off.
func TestLogInfoWritesWhatLogAttrsWrites(t *testing.T) {
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	attrs := []slog.Attr{slog.String("id", "x"), slog.Int("status", 200), slog.Duration("dur", time.Millisecond)}
	var want, got bytes.Buffer
	slog.New(slog.NewTextHandler(&want, &slog.HandlerOptions{ReplaceAttr: noTime})).
		LogAttrs(t.Context(), slog.LevelInfo, "request", attrs...)
	logInfo(slog.New(slog.NewTextHandler(&got, &slog.HandlerOptions{ReplaceAttr: noTime})), "request", attrs)
	assert.Equal(t, want.String(), got.String())

	var off bytes.Buffer
	logInfo(slog.New(slog.NewTextHandler(&off, &slog.HandlerOptions{Level: slog.LevelWarn})), "request", attrs)
	assert.Empty(t, off.String())
}
