package config

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"unicode/utf8"
)

// maxLogValue bounds every value the gateway logs, in bytes: a caller
// controls some of them (the model asked, up to the body limit), and a
// 5 MB model name must not make a 5 MB log line.
const maxLogValue = 512

// boundedHandler returns a slog.Handler that passes records on to h with
// the message and every string value cut to maxLogValue bytes (clipLogValue):
// string attributes, errors and Stringers, in groups and in the attributes
// added with With. The main job logs through one, so no field of any line
// (the access log's, the server's own errors) is unbounded.
func boundedHandler(h slog.Handler) slog.Handler { return bounded{h} }

type bounded struct{ next slog.Handler }

func (b bounded) Enabled(ctx context.Context, l slog.Level) bool { return b.next.Enabled(ctx, l) }

func (b bounded) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, clipLogValue(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(clipAttr(a))
		return true
	})
	return b.next.Handle(ctx, out)
}

func (b bounded) WithAttrs(as []slog.Attr) slog.Handler {
	clipped := make([]slog.Attr, len(as))
	for i, a := range as {
		clipped[i] = clipAttr(a)
	}
	return bounded{b.next.WithAttrs(clipped)}
}

func (b bounded) WithGroup(name string) slog.Handler { return bounded{b.next.WithGroup(name)} }

// clipAttr bounds a's value: a string, or anything printed as one (an
// error, a Stringer, any other value), cut by clipLogValue; a group, each
// of its attributes. Numbers, booleans, times and durations pass as they are.
func clipAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if s := v.String(); len(s) > maxLogValue {
			a.Value = slog.StringValue(clipLogValue(s))
		}
	case slog.KindGroup:
		g := v.Group()
		clipped := make([]slog.Attr, len(g))
		for i, ga := range g {
			clipped[i] = clipAttr(ga)
		}
		a.Value = slog.GroupValue(clipped...)
	case slog.KindAny:
		var s string
		switch x := v.Any().(type) {
		case error:
			s = x.Error()
		case fmt.Stringer:
			s = x.String()
		default:
			s = fmt.Sprintf("%+v", x)
		}
		a.Value = slog.StringValue(clipLogValue(s))
	default:
		a.Value = v
	}
	return a
}

// clipLogValue returns s cut to maxLogValue bytes, on a rune boundary, and
// marked "…[+N bytes]" with the bytes left out; a shorter s as it is.
func clipLogValue(s string) string {
	if len(s) <= maxLogValue {
		return s
	}
	cut := maxLogValue
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…[+" + strconv.Itoa(len(s)-cut) + " bytes]"
}
