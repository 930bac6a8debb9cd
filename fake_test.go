package gateway_test

import (
	"io"
	"log"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/llmgate/gateway"
)

// fakeProvider answers with a script and remembers what it was sent.
type fakeProvider struct {
	handle func(req *http.Request) (*http.Response, error)
	calls  atomic.Int64
	mu     sync.Mutex
	last   *http.Request
	call   *gateway.Call
	body   string
}

func (f *fakeProvider) Name() string { return "fake" }

func (f *fakeProvider) RoundTrip(req *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	b, _ := io.ReadAll(req.Body)
	req.Body.Close()
	f.mu.Lock()
	f.last, f.call, f.body = req, gateway.CallFrom(req.Context()), string(b)
	f.mu.Unlock()
	return f.handle(req)
}

func (f *fakeProvider) seen() (*http.Request, *gateway.Call, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last, f.call, f.body
}

func respond(req *http.Request, status int, contentType string, body io.ReadCloser) *http.Response {
	h := http.Header{}
	h.Set("Content-Type", contentType)
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: body, ContentLength: -1, Request: req}
}

func jsonReply(req *http.Request, status int, body string) *http.Response {
	return respond(req, status, "application/json", io.NopCloser(strings.NewReader(body)))
}

func sseReply(req *http.Request, body io.ReadCloser) *http.Response {
	return respond(req, 200, "text/event-stream", body)
}

const chatReply = `{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello world"},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}}`

func chunk(content string) string {
	return `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"` + content + `"}}]}` + "\n\n"
}

const usageOnly = `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}}` + "\n\n"

var okProvider = func() *fakeProvider {
	return &fakeProvider{handle: func(req *http.Request) (*http.Response, error) { return jsonReply(req, 200, chatReply), nil }}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }
