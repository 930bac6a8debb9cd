package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chatOfSize is a valid chat request body of exactly n bytes.
func chatOfSize(n int) []byte {
	const head, tail = `{"model":"m","messages":[{"role":"user","content":"`, `"}]}`
	return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
}

// stepBody is a request body that the test hands out part by part. A Read
// with nothing left waits for the next part, telling waiting (whenever the
// test asks) that it is waiting: the reader has taken every part so far and
// reserved the buffer it reads next into. Closing parts ends the body.
type stepBody struct {
	parts   chan []byte
	waiting chan struct{}
	buf     []byte
}

func newStepBody() *stepBody {
	return &stepBody{parts: make(chan []byte), waiting: make(chan struct{})}
}

func (s *stepBody) Read(p []byte) (int, error) {
	for len(s.buf) == 0 {
		select {
		case s.waiting <- struct{}{}:
		case b, ok := <-s.parts:
			if !ok {
				return 0, io.EOF
			}
			s.buf = b
		}
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}

func (s *stepBody) Close() error { return nil }

// waitReading waits, within a bound, for the reader to wait on s.
func (s *stepBody) waitReading(t *testing.T) {
	t.Helper()
	select {
	case <-s.waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler never read the body")
	}
}

// serveAsync runs h on a POST of body, announcing length, and returns the
// recorder, which is complete once done is closed.
func serveAsync(h http.Handler, body io.ReadCloser, length int64) (*httptest.ResponseRecorder, chan struct{}) {
	req := httptest.NewRequest("POST", "/v1/chat/completions", body)
	req.ContentLength = length
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(rec, req)
	}()
	return rec, done
}

func waitDone(t *testing.T, done chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler never returned")
	}
}

func okRoundTripper() RoundTripperFunc {
	return func(req *http.Request) (*http.Response, error) {
		_, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
			Body:    io.NopCloser(strings.NewReader(`{"id":"c","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)),
			Request: req}, nil
	}
}

// The bytes a handler holds for request bodies grow as they arrive and never
// exceed Limits.MaxBodyBytesInFlight: a request that would go over it is
// refused 503 server_overloaded with Retry-After, and what it held is
// released; what a call holds is released when it ends.
func TestHandlerCapsBodyBytesInFlight(t *testing.T) {
	const first = 1 << firstChunkShift // 16 KiB
	const size = 40 << 10
	// One call of the largest size fits: the buffers it arrived in
	// (size+1) and its copy (size). Two do not.
	lim := Limits{MaxBodyBytes: size, MaxBodyBytesInFlight: 2*size + 2}
	h := NewHandler(okRoundTripper(), WithLimits(lim)).(*handler)
	used := func() int64 { return h.bodies.used.Load() }

	// A announces 40 KiB and sends nothing: it holds one first chunk.
	a := newStepBody()
	aRec, aDone := serveAsync(h, a, size)
	a.waitReading(t)
	assert.EqualValues(t, first, used(), "before any byte, only the first chunk")

	// A sends 16 KiB: it holds the next chunk too, cut to what is left of
	// its length (+1 for EOF).
	body := chatOfSize(size)
	a.parts <- body[:first]
	a.waitReading(t)
	aHeld := int64(first + (size + 1 - first))
	assert.Equal(t, aHeld, used())

	// B needs as much: over the cap, refused, and holds nothing after.
	bRec, bDone := serveAsync(h, io.NopCloser(bytes.NewReader(body)), size)
	waitDone(t, bDone)
	assert.Equal(t, 503, bRec.Code)
	assert.Equal(t, "1", bRec.Header().Get("Retry-After"))
	var e struct {
		Error struct{ Code, Type, Message string } `json:"error"`
	}
	require.NoError(t, json.Unmarshal(bRec.Body.Bytes(), &e))
	assert.Equal(t, "server_overloaded", e.Error.Code)
	assert.Equal(t, aHeld, used(), "the refused request released what it held")
	assert.LessOrEqual(t, used(), lim.MaxBodyBytesInFlight)

	// A completes; once its call is over it holds nothing.
	a.parts <- body[first:]
	close(a.parts)
	waitDone(t, aDone)
	assert.Equal(t, 200, aRec.Code, aRec.Body.String())
	assert.Zero(t, used())

	// With A gone, B fits.
	bRec, bDone = serveAsync(h, io.NopCloser(bytes.NewReader(body)), size)
	waitDone(t, bDone)
	assert.Equal(t, 200, bRec.Code, bRec.Body.String())
	assert.Zero(t, used())
}

func TestReadServerBody(t *testing.T) {
	const limit = 3 << 20
	sizes := []int{0, 1, 100, 1<<firstChunkShift - 1, 1 << firstChunkShift, 1<<firstChunkShift + 1, 100 << 10, 1<<20 + 7, limit}
	for _, n := range sizes {
		want := bytes.Repeat([]byte("abcdefghijklmnopq"), n/17+1)[:n]
		for _, hint := range []int64{int64(n), -1} {
			for name, wrap := range map[string]func(io.Reader) io.Reader{
				"whole": func(r io.Reader) io.Reader { return r },
				"half":  iotest.HalfReader,
				"eof":   iotest.DataErrReader, // EOF with the last bytes, as net/http's body does
			} {
				budget := &bodyBudget{max: 2*limit + 1}
				got, held, err := readServerBody(wrap(bytes.NewReader(want)), hint, limit, budget)
				require.NoError(t, err, "size %d hint %d %s", n, hint, name)
				assert.Equal(t, want, got, "size %d hint %d %s", n, hint, name)
				assert.Equal(t, held, budget.used.Load(), "what it holds is what it says")
				assert.LessOrEqual(t, held, int64(n)+1)
				budget.release(held)
			}
		}
	}
}

func TestReadServerBodyRefusals(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 100<<10)
	tests := []struct {
		name         string
		hint, limit  int64
		budget       int64
		wantCode     string
		wantStatus   int
		wantConsumed bool
	}{
		{"announced over the limit", int64(len(big)), 50 << 10, 1 << 20, "request_too_large", 413, false},
		{"unannounced over the limit", -1, 50 << 10, 1 << 20, "request_too_large", 413, true},
		{"longer than announced, over the limit", 10, 50 << 10, 1 << 20, "request_too_large", 413, true},
		{"small body, no budget", 10, 1 << 20, 5, "server_overloaded", 503, false},
		{"large body, budget runs out", int64(len(big)), 1 << 20, 40 << 10, "server_overloaded", 503, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			budget := &bodyBudget{max: tt.budget}
			r := bytes.NewReader(big)
			_, held, err := readServerBody(r, tt.hint, tt.limit, budget)
			ge := ErrorFor(err)
			require.NotNil(t, ge)
			assert.Equal(t, tt.wantStatus, ge.Status)
			assert.Equal(t, tt.wantCode, ge.Code)
			assert.Zero(t, held)
			assert.Zero(t, budget.used.Load(), "a refusal holds nothing")
			assert.Equal(t, tt.wantConsumed, r.Len() < len(big))
		})
	}
}

func TestBodyBudgetNeverGoesOver(t *testing.T) {
	b := &bodyBudget{max: 100}
	assert.True(t, b.reserve(60))
	assert.False(t, b.reserve(41))
	assert.True(t, b.reserve(40))
	assert.False(t, b.reserve(1))
	b.release(100)
	assert.Zero(t, b.used.Load())
	var none *bodyBudget
	assert.True(t, none.reserve(1<<40), "a nil budget bounds nothing")
}

func TestLimitsValidateInFlight(t *testing.T) {
	assert.NoError(t, Limits{}.Validate())
	assert.Error(t, Limits{MaxBodyBytesInFlight: -1}.Validate())
	assert.Error(t, Limits{MaxBodyBytes: 1 << 20, MaxBodyBytesInFlight: 1 << 20}.Validate(), "no largest body would fit")
	assert.Error(t, Limits{MaxBodyBytes: 1 << 20, MaxBodyBytesInFlight: 2 << 20}.Validate(), "nor while it is copied")
	assert.NoError(t, Limits{MaxBodyBytes: 1 << 20, MaxBodyBytesInFlight: 2<<20 + 1}.Validate())
	assert.Error(t, Limits{MaxBodyBytes: 512 << 20}.Validate(), "over the default in-flight cap")
	assert.NoError(t, Limits{MaxBodyBytes: 500 << 20, MaxBodyBytesInFlight: 1 << 30}.Validate())
}
