package config

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// logHandler writes, for each record, the line slog.TextHandler (with no
// options) writes, every value bounded as boundedHandler bounds it, with
// less work per line: the access log writes one for
// every call. Its writer takes each line in one Write and must be safe for
// concurrent use (a logWriter is), since lines are not serialized here. It writes records whose attributes are strings,
// numbers, booleans and durations itself, and hands any other record
// (groups, times, arbitrary values, attributes from WithAttrs or WithGroup)
// to a slog.TextHandler over the same writer, so every line is what that
// handler would write. TestLogHandlerWritesWhatTextHandlerWrites pins it.
type logHandler struct {
	w     io.Writer
	level slog.Level
	slow  slog.Handler
}

// newLogHandler returns a logHandler writing records at level or above.
func newLogHandler(w io.Writer, level slog.Level) *logHandler {
	return &logHandler{w: w, level: level, slow: boundedHandler(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))}
}

func (h *logHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler { return h.slow.WithAttrs(as) }

func (h *logHandler) WithGroup(name string) slog.Handler { return h.slow.WithGroup(name) }

var lineBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	var buf [16]slog.Attr
	attrs := buf[:0]
	r.Attrs(func(a slog.Attr) bool { attrs = append(attrs, a); return true })
	if !fastAttrs(attrs) {
		return h.slow.Handle(ctx, r)
	}
	return h.write(r.Time, r.Level, r.Message, attrs)
}

// log writes a record of msg and attrs at level, taken now, as Handle would,
// without a slog.Record to build and walk: logInfo calls it for the access
// log's line.
func (h *logHandler) log(level slog.Level, msg string, attrs []slog.Attr) error {
	now := time.Now()
	if !fastAttrs(attrs) {
		r := slog.NewRecord(now, level, msg, 0)
		r.AddAttrs(attrs...)
		return h.slow.Handle(context.Background(), r)
	}
	return h.write(now, level, msg, attrs)
}

// fastAttrs reports whether write writes attrs as slog.TextHandler does.
func fastAttrs(attrs []slog.Attr) bool {
	for _, a := range attrs {
		switch a.Value.Kind() {
		case slog.KindString, slog.KindInt64, slog.KindUint64, slog.KindFloat64, slog.KindBool, slog.KindDuration:
			if a.Key == "" { // an empty key's rules (elided or quoted) are left to slog
				return false
			}
		default:
			return false
		}
	}
	return true
}

func (h *logHandler) write(t time.Time, level slog.Level, msg string, attrs []slog.Attr) error {
	bp := lineBufs.Get().(*[]byte)
	b := (*bp)[:0]
	if !t.IsZero() {
		b = append(b, "time="...)
		b = appendRFC3339Millis(b, t.Round(0))
		b = append(b, ' ')
	}
	b = append(b, "level="...)
	b = appendText(b, level.String())
	b = append(b, " msg="...)
	b = appendText(b, clipLogValue(msg))
	for _, a := range attrs {
		b = append(b, ' ')
		b = appendText(b, a.Key)
		b = append(b, '=')
		v := a.Value
		switch v.Kind() {
		case slog.KindString:
			b = appendText(b, clipLogValue(v.String())) // every value bounded, as boundedHandler does
		case slog.KindInt64:
			b = strconv.AppendInt(b, v.Int64(), 10)
		case slog.KindUint64:
			b = strconv.AppendUint(b, v.Uint64(), 10)
		case slog.KindFloat64:
			b = strconv.AppendFloat(b, v.Float64(), 'g', -1, 64)
		case slog.KindBool:
			b = strconv.AppendBool(b, v.Bool())
		case slog.KindDuration:
			b = append(b, v.Duration().String()...)
		}
	}
	b = append(b, '\n')
	_, err := h.w.Write(b)
	*bp = b
	if cap(b) <= 16<<10 {
		lineBufs.Put(bp)
	}
	return err
}

// appendRFC3339Millis appends t as slog's text handler does: RFC 3339 with
// exactly three digits of milliseconds.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	// RFC3339Nano trims trailing zeros; a tenth of a millisecond added to
	// the truncated time keeps four digits, and the fourth is dropped.
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...)
}

// appendText appends s as slog's text handler does: as it is, or quoted
// when it is empty or holds a space, '=', '"', a control character, or a
// rune that is not printable or not valid UTF-8.
func appendText(b []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func needsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if !textUnsafe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			return true
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// textUnsafe marks the bytes needsQuoting must look at: the ASCII ones that
// make a string quoted, and every byte of a multi-byte rune.
var textUnsafe = func() (t [256]bool) {
	for c := range t {
		t[c] = c <= ' ' || c == '"' || c == '=' || c >= utf8.RuneSelf
	}
	return t
}()
