package main

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/llmgate/gateway"
)

// callSlot is where captureCall leaves a request's Call for the access log.
// The Handler derives the Call's context from the inbound request's, so a
// slot put in the inbound context is visible to the chain.
type callSlot struct{ call *gateway.Call }

type callSlotKey struct{}

// captureCall is a gateway.Middleware: it puts the request's Call in the
// slot accessLog left in the context. Outermost in the chain, it sees each
// call once, whatever Retry and the router do inside.
func captureCall(next http.RoundTripper) http.RoundTripper {
	return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		if s, ok := req.Context().Value(callSlotKey{}).(*callSlot); ok {
			s.call = gateway.CallFrom(req.Context())
		}
		return next.RoundTrip(req)
	})
}

// accessLog logs one line per request once it has been answered: status,
// duration and, for model calls, the model, who served it, each attempt
// (target:status) and the usage. It logs no header and no body, so no key.
func accessLog(next http.Handler, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		slot := &callSlot{}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			p := recover()
			logRequest(logger, r, sw.status, time.Since(start), slot.call, p != nil)
			if p != nil {
				panic(p) // http.ErrAbortHandler: the handler cut a broken response
			}
		}()
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), callSlotKey{}, slot)))
	})
}

func logRequest(logger *slog.Logger, r *http.Request, status int, dur time.Duration, c *gateway.Call, aborted bool) {
	attrs := []slog.Attr{
		slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", status), slog.Duration("dur", dur),
	}
	if aborted {
		attrs = append(attrs, slog.Bool("aborted", true))
	}
	if c != nil {
		target, model := c.Served()
		attrs = append(attrs, slog.String("id", c.ID), slog.String("model", c.Model),
			slog.Bool("stream", c.Stream), slog.String("served_by", target), slog.String("served_model", model),
			slog.String("attempts", attemptsText(c.Attempts())))
		if u, ok := c.Usage(); ok {
			attrs = append(attrs, slog.Int("prompt_tokens", u.PromptTokens),
				slog.Int("completion_tokens", u.CompletionTokens), slog.Bool("estimated", u.Estimated))
		}
	}
	logger.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}

// attemptsText is "sim-b:503 sim-a:200": each attempt's target and status,
// or its error code when it got no response.
func attemptsText(as []gateway.Attempt) string {
	var b strings.Builder
	for i, a := range as {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(a.Target)
		b.WriteByte(':')
		if a.Status != 0 {
			b.WriteString(strconv.Itoa(a.Status))
		} else {
			b.WriteString(a.Err)
		}
	}
	return b.String()
}

// statusWriter records the status of a response. Unwrap lets
// http.ResponseController reach the underlying writer to flush streams and
// set write deadlines.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
