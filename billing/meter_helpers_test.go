package billing_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/billing"
)

// records is a Recorder that keeps every record.
type records struct {
	mu   sync.Mutex
	recs []billing.Record
}

func (r *records) Enqueue(rec billing.Record) error {
	r.mu.Lock()
	r.recs = append(r.recs, rec)
	r.mu.Unlock()
	return nil
}

func (r *records) all() []billing.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]billing.Record(nil), r.recs...)
}

// canned is a Provider that answers every call with the same body, as a
// stream (text/event-stream) when stream is set.
type canned struct {
	name   string
	body   string
	stream bool
	status int
}

func (c canned) Name() string { return c.name }

func (c canned) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	ct := "application/json"
	if c.stream {
		ct = "text/event-stream"
	}
	status := c.status
	if status == 0 {
		status = 200
	}
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {ct}},
		Body: io.NopCloser(strings.NewReader(c.body)), Request: req}, nil
}

// newMeter returns a Meter over a fresh Recorder, failing the test on a
// configuration error.
func newMeter(t *testing.T, cfg billing.MeterConfig) (*billing.Meter, *records) {
	t.Helper()
	rec := &records{}
	m, err := billing.NewMeter(rec, cfg)
	require.NoError(t, err)
	return m, rec
}

// call sends body through a client-mode chain and reads the whole answer.
func call(t *testing.T, rt http.RoundTripper, caller gateway.Caller, body string) (*http.Response, string) {
	t.Helper()
	ctx := gateway.WithCaller(context.Background(), caller)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://gw/v1/chat/completions", strings.NewReader(body))
	require.NoError(t, err)
	resp, err := gateway.NewClient(rt).Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

const chatBody = `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`
