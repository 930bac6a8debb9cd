package config

import (
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/llmgate/gateway"
)

// accessLogger returns the observer (gateway.WithObserver) that logs each
// call in one line once it has ended: every request the gateway's handler
// receives, refusals before parsing included. The line holds the call's id,
// operation, status and duration (from the call's start to its end) and,
// for a model call, the model, whether it streamed, who served it, each
// attempt (target:status) and the usage, then the error's code when it
// failed and, for a failure of the gateway's or an upstream's (a 5xx), its
// cause (errorChain: a refused connection, a reset, a timeout), which the
// caller's message does not say. It never holds a header or a body, so
// never a key (a cause is what the provider says of its transport's error:
// the library's providers scrub it; a Provider of yours says what it
// says). The main job logs through a boundedHandler, so a value a caller
// chose (a 5 MB model name) is cut, and marked so, rather than making a
// 5 MB line.
//
// The status is the call's Result: 499 for a caller that left before its
// answer was written, even when the whole answer had been read from
// upstream; a call refused before any provider was tried (an unknown model)
// logs no attempt.
func accessLogger(logger *slog.Logger) func(*gateway.Call) {
	return func(c *gateway.Call) {
		status, err := c.Result()
		attrs := make([]slog.Attr, 0, 14)
		attrs = append(attrs, slog.String("id", c.ID), slog.String("op", c.Op.String()),
			slog.Int("status", status), slog.Duration("dur", time.Since(c.Start)))
		if c.Model != "" {
			target, model := c.Served()
			attrs = append(attrs, slog.String("model", c.Model), slog.Bool("stream", c.Stream),
				slog.String("served_by", target), slog.String("served_model", model),
				slog.String("attempts", attemptsText(c)))
		}
		if u, ok := c.Usage(); ok {
			attrs = append(attrs, slog.Int("prompt_tokens", u.PromptTokens),
				slog.Int("completion_tokens", u.CompletionTokens), slog.Bool("estimated", u.Estimated))
		}
		if err != nil {
			ge := gateway.ErrorFor(err)
			attrs = append(attrs, slog.String("error", ge.Code))
			if ge.Status >= 500 {
				attrs = append(attrs, slog.String("cause", errorChain(err)))
			}
		}
		logInfo(logger, "request", attrs)
	}
}

// errorChain is err's text followed by its cause's, one level down, when
// err is the gateway's error (whose message is the caller's, "gateway:
// upstream failed") and the cause says more: "gateway: upstream failed:
// provider: up: dial tcp 127.0.0.1:9: connect: connection refused". It goes
// no deeper: a provider's transport error is its scrubbed text (keys and
// queries replaced), and what it wraps is the raw error, which a custom
// transport may fill with the request's headers.
func errorChain(err error) string {
	s := err.Error()
	ge, ok := err.(*gateway.Error)
	if !ok {
		return s
	}
	if cause := ge.Unwrap(); cause != nil {
		if t := cause.Error(); t != "" && !strings.Contains(s, t) {
			s += ": " + t
		}
	}
	return s
}

// attemptsText is "sim-b:503 sim-a:200": each attempt's target and status,
// or its error code when it got no response.
func attemptsText(c *gateway.Call) string {
	var arr [4]gateway.Attempt
	var buf [64]byte
	b := buf[:0]
	for i, a := range c.AppendAttempts(arr[:0]) {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(append(b, a.Target...), ':')
		if a.Status != 0 {
			b = strconv.AppendInt(b, int64(a.Status), 10)
		} else {
			b = append(b, a.Err...)
		}
	}
	return string(b)
}
