package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmgate/gateway"
)

// discardWriter is a ResponseWriter that keeps nothing, reused across
// iterations.
type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkHandlerBody measures a server-mode request by body size, in
// process (no sockets): NewHandler reads the body, parses the Call and
// dispatches to a provider that answers at once without reading it. The
// difference between sizes is the body's read and parse.
func BenchmarkHandlerBody(b *testing.B) {
	answer := gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(chatReply)), Request: req}, nil
	})
	h := gateway.NewHandler(answer)
	for _, sz := range benchSizes {
		body := chatBody(sz.size)
		b.Run(sz.name, func(b *testing.B) {
			req := httptest.NewRequest("POST", "/v1/chat/completions", nil)
			req.ContentLength = int64(len(body))
			rb := &benchBody{}
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				rb.Reset(body)
				req.Body = rb
				clear(w.h)
				h.ServeHTTP(w, req)
				if w.code != 200 {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}
