package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmgate/gateway"
)

// gwbenchEvent is one of gwbench's mock stream events (about 370 bytes).
const gwbenchEvent = `data: {"id":"chatcmpl-gwbenchmock0000000000000002","object":"chat.completion.chunk","created":1763856000,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_gwbench01","choices":[{"delta":{"content":" an AI gateway fits into a production"},"finish_reason":null,"index":0,"logprobs":null}]}` + "\n\n"

// eventReader returns one event per Read, as an upstream that sends them
// apart does, then [DONE].
type eventReader struct{ left int }

func (r *eventReader) Read(p []byte) (int, error) {
	switch {
	case r.left > 0:
		r.left--
		return copy(p, gwbenchEvent), nil
	case r.left == 0:
		r.left--
		return copy(p, "data: [DONE]\n\n"), nil
	}
	return 0, io.EOF
}

func (r *eventReader) Close() error { return nil }

// flushRecorder is a ResponseWriter that discards the body and counts
// flushes, as a caller's connection would see them.
type flushRecorder struct {
	h       http.Header
	flushes int
}

func (w *flushRecorder) Header() http.Header         { return w.h }
func (w *flushRecorder) WriteHeader(int)             {}
func (w *flushRecorder) Write(p []byte) (int, error) { return len(p), nil }
func (w *flushRecorder) Flush()                      { w.flushes++ }

// BenchmarkStreamEvents is the handler's cost per stream event, apart from
// the network: a stream of 200 events, each its own read, through
// NewHandler (the boundary's hold, the tap) against a plain read, write and
// flush loop (what a reverse proxy does per event). ns/event is per event.
func BenchmarkStreamEvents(b *testing.B) {
	const events = 200
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		return sseReply(req, &eventReader{left: events}), nil
	}}
	h := gateway.NewHandler(p)
	body := `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
	b.Run("copy", func(b *testing.B) {
		buf := make([]byte, 32<<10)
		b.ReportAllocs()
		for b.Loop() {
			w := &flushRecorder{h: http.Header{}}
			r := &eventReader{left: events}
			for {
				n, err := r.Read(buf)
				if n > 0 {
					_, _ = w.Write(buf[:n])
					w.Flush()
				}
				if err != nil {
					break
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events), "ns/event")
	})
	b.Run("handler", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w := &flushRecorder{h: http.Header{}}
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body)))
			if w.flushes < events {
				b.Fatalf("%d flushes, want %d", w.flushes, events)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events), "ns/event")
	})
}
