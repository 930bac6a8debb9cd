package config

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var logEpoch = time.Date(2026, 12, 1, 10, 25, 9, 123456789, time.UTC)

// lines returns what logHandler and slog.TextHandler write for r.
func lines(t testing.TB, r slog.Record) (got, want string) {
	var g, w bytes.Buffer
	require.NoError(t, newLogHandler(&g, slog.LevelInfo).Handle(context.Background(), r.Clone()))
	require.NoError(t, slog.NewTextHandler(&w, nil).Handle(context.Background(), r.Clone()))
	return g.String(), w.String()
}

func record(tm time.Time, msg string, attrs ...slog.Attr) slog.Record {
	r := slog.NewRecord(tm, slog.LevelInfo, msg, 0)
	r.AddAttrs(attrs...)
	return r
}

// The fast path writes exactly the line slog.TextHandler writes, and hands
// everything else to it.
func TestLogHandlerWritesWhatTextHandlerWrites(t *testing.T) {
	for _, r := range []slog.Record{
		record(logEpoch, "request", slog.String("id", "call_5754b5d106d15221c74c1beb"), slog.String("op", "chat"), slog.Int("status", 200),
			slog.Duration("dur", 96146101*time.Nanosecond), slog.String("model", "gpt-4o-mini"), slog.Bool("stream", true),
			slog.String("served_by", "mock"), slog.String("attempts", "sim-b:503 sim-a:200"), slog.Int("prompt_tokens", 56)),
		record(time.Time{}, "no time"),
		record(logEpoch.Truncate(time.Second), "whole second"),
		record(logEpoch.In(time.FixedZone("X", -7*3600)), "another zone"),
		record(logEpoch, "", slog.String("empty", ""), slog.String("space", "a b"), slog.String("eq", "a=b"),
			slog.String("quote", `a"b`), slog.String("backslash", `a\b`), slog.String("ctl", "a\tb\x01"), slog.String("del", "a\x7fb")),
		record(logEpoch, "unicode", slog.String("é", "héllo"), slog.String("nbsp", "a\u00a0b"), slog.String("bad", "a\xffb"),
			slog.String("zw", "a\u200bb"), slog.String("emoji", "🙂")),
		record(logEpoch, "numbers", slog.Int64("neg", -42), slog.Uint64("u", math.MaxUint64), slog.Float64("f", 0.1),
			slog.Float64("inf", math.Inf(1)), slog.Float64("nan", math.NaN()), slog.Duration("zero", 0)),
		record(logEpoch, "key with space", slog.String("a key", "v"), slog.String("k=", "v")),
		// Handed to slog: every kind the fast path does not write.
		record(logEpoch, "slow", slog.Time("at", logEpoch), slog.Any("err", errors.New("boom")), slog.Group("g", slog.Int("a", 1)),
			slog.Any("nil", nil), slog.String("", "empty key")),
	} {
		got, want := lines(t, r)
		assert.Equal(t, want, got, r.Message)
	}
	var g, w bytes.Buffer
	slog.New(newLogHandler(&g, slog.LevelInfo)).With("k", "v").WithGroup("grp").Info("derived", "a", 1)
	slog.New(slog.NewTextHandler(&w, nil)).With("k", "v").WithGroup("grp").Info("derived", "a", 1)
	assert.Equal(t, stripTime(w.String()), stripTime(g.String()))
	assert.False(t, newLogHandler(&g, slog.LevelInfo).Enabled(context.Background(), slog.LevelDebug))

	// logInfo's way in, with attributes of the fast kinds and of others.
	for _, attrs := range [][]slog.Attr{
		{slog.String("id", "x"), slog.Int("status", 200), slog.Duration("dur", time.Millisecond)},
		{slog.String("id", "x"), slog.Time("at", logEpoch)},
	} {
		g.Reset()
		w.Reset()
		logInfo(slog.New(newLogHandler(&g, slog.LevelInfo)), "request", attrs)
		slog.New(slog.NewTextHandler(&w, nil)).LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
		assert.Equal(t, stripTime(w.String()), stripTime(g.String()))
	}
}

func stripTime(s string) string {
	if i := bytes.IndexByte([]byte(s), ' '); i >= 0 {
		return s[i:]
	}
	return s
}

// Whatever string a record holds, the fast path writes what slog does.
func FuzzLogHandler(f *testing.F) {
	f.Add("request", "id", "call_1", int64(200), int64(96146101))
	f.Add("", "", "", int64(-1), int64(0))
	f.Add("a b", "k=v", "\"\\\x00\xff é", int64(1)<<62, int64(-5))
	f.Fuzz(func(t *testing.T, msg, key, val string, n, d int64) {
		r := record(logEpoch.Add(time.Duration(d)), msg, slog.String(key, val), slog.Int64("n", n), slog.Duration("d", time.Duration(d)))
		got, want := lines(t, r)
		if got != want {
			t.Fatalf("got  %q\nwant %q", got, want)
		}
	})
}

// BenchmarkLogHandler measures one access-log line written by logHandler
// and by slog.TextHandler.
func BenchmarkLogHandler(b *testing.B) {
	attrs := []slog.Attr{slog.String("id", "call_5754b5d106d15221c74c1beb"), slog.String("op", "chat"), slog.Int("status", 200),
		slog.Duration("dur", 96146101*time.Nanosecond), slog.String("model", "gpt-4o-mini"), slog.Bool("stream", false),
		slog.String("served_by", "mock"), slog.String("served_model", "gpt-4o-mini"), slog.String("attempts", "mock:200"),
		slog.Int("prompt_tokens", 56), slog.Int("completion_tokens", 148), slog.Bool("estimated", false)}
	for _, h := range []struct {
		name string
		h    slog.Handler
	}{{"logHandler", newLogHandler(discardSafe{}, slog.LevelInfo)}, {"TextHandler", slog.NewTextHandler(discardSafe{}, nil)}} {
		b.Run(h.name, func(b *testing.B) {
			logger := slog.New(h.h)
			b.ReportAllocs()
			for b.Loop() {
				logInfo(logger, "request", attrs)
			}
		})
	}
}

type discardSafe struct{}

func (discardSafe) Write(p []byte) (int, error) { return len(p), nil }
