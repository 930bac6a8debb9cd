package gatewaytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmgate/gateway"
)

// SocketFaults are faults that need a real socket, drawn per request from
// the Server's seeded PRNG. Each rate is drawn independently in the order
// reset, stall, reset-after-headers, and the first one drawn applies; so a
// rate is the share of requests it hits when it is the only one set.
type SocketFaults struct {
	// ResetRate is the share of requests whose connection is reset (closed
	// with SO_LINGER 0) before any response: the client sees ECONNRESET.
	ResetRate float64
	// ResetAfterHeaders is the share of requests that get their status,
	// headers and part of the body (half of the handler's first write, a
	// stream's first events), then a reset.
	ResetAfterHeaders float64
	// StallRate is the share of requests that are read and never answered
	// until the client gives up or the Server closes.
	StallRate float64
	// SlowHeaders delays every request, in real time, before it is served.
	SlowHeaders time.Duration
	// Seed, when not zero, reseeds the PRNG that draws the faults, so a test
	// replays the same sequence. NewServer starts with seed 1.
	Seed uint64
}

func (f SocketFaults) validate() error {
	for _, r := range []float64{f.ResetRate, f.ResetAfterHeaders, f.StallRate} {
		if !(r >= 0 && r <= 1) {
			return fmt.Errorf("gatewaytest: fault rate %v outside [0,1]", r)
		}
	}
	if f.SlowHeaders < 0 {
		return fmt.Errorf("gatewaytest: negative SlowHeaders %v", f.SlowHeaders)
	}
	return nil
}

// Fault names recorded in RecordedRequest.Fault.
const (
	FaultReset             = "reset"
	FaultResetAfterHeaders = "reset-after-headers"
	FaultStall             = "stall"
)

// RecordedRequest is a request as the Server received it.
type RecordedRequest struct {
	Method string
	Path   string
	Query  string // the raw query, without '?'
	Header http.Header
	// Body holds at most MaxRecordedBody bytes; Truncated says it was cut.
	Body      []byte
	Truncated bool
	Fault     string // the socket fault drawn for it, or ""
}

// Bounds of what a Server keeps.
const (
	MaxRecorded     = 256     // requests kept by Requests, the last ones
	MaxRecordedBody = 1 << 20 // bytes of each request body kept
)

// Server is an OpenAI-compatible upstream on a real loopback socket: it
// serves gateway.NewHandler(p), so any Provider (a Sim, say)
// answers /v1/chat/completions, /v1/completions, /v1/embeddings and
// /v1/models over HTTP/1.1, as net/http/httptest serves a handler. On top
// it injects what only a socket can do (SetFaults) and records the requests
// it receives (Requests, Count), so a test can assert on what went
// upstream: the key, the model, the body.
//
// Use its Client (or a transport whose idle connections the test closes) so
// that no connection outlives the test. Close releases every stalled or
// slowed request and waits for the handlers to return: no goroutine of the
// Server outlives it. Server is safe for concurrent use.
type Server struct {
	*httptest.Server

	handler http.Handler
	cancel  context.CancelFunc
	faults  atomic.Pointer[SocketFaults]
	count   atomic.Int64

	mu   sync.Mutex // guards rng and the ring
	rng  *rand.Rand
	ring [MaxRecorded]RecordedRequest
	next int // where the next record goes
	full bool
}

// NewServer starts a Server that serves gateway.NewHandler(p, opts...). The
// caller must Close it.
func NewServer(p gateway.Provider, opts ...gateway.Option) *Server {
	if p == nil {
		panic("gatewaytest: nil provider")
	}
	return newServer(gateway.NewHandler(p, opts...))
}

// newServer starts a Server of handler: the socket faults and the record
// of requests, whatever wire format the handler speaks.
func newServer(handler http.Handler) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		handler: handler,
		cancel:  cancel,
		rng:     rand.New(rand.NewPCG(1, 2)),
	}
	s.faults.Store(&SocketFaults{})
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	s.Start()
	return s
}

// BaseURL returns the server's OpenAI base URL, s.URL + "/v1", for an SDK
// (openai-go's option.WithBaseURL) or a provider adapter.
func (s *Server) BaseURL() string { return s.URL + "/v1" }

// SetFaults replaces the socket faults for requests that arrive after it
// returns. It returns an error, and changes nothing, for a rate outside
// [0,1] or a negative delay.
func (s *Server) SetFaults(f SocketFaults) error {
	if err := f.validate(); err != nil {
		return err
	}
	if f.Seed != 0 {
		s.mu.Lock()
		s.rng = rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))
		s.mu.Unlock()
	}
	s.faults.Store(&f)
	return nil
}

// Close releases stalled and slowed requests (their contexts end), shuts the
// server down and waits for its handlers to return.
func (s *Server) Close() {
	s.cancel()
	s.Server.Close()
}

// Count returns how many requests the Server has received, faulty ones
// included.
func (s *Server) Count() int64 { return s.count.Load() }

// Requests returns copies of the last MaxRecorded requests received, oldest
// first.
func (s *Server) Requests() []RecordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []RecordedRequest
	if s.full {
		out = append(out, s.ring[s.next:]...)
	}
	out = append(out, s.ring[:s.next]...)
	for i := range out {
		out[i].Header = out[i].Header.Clone()
		out[i].Body = bytes.Clone(out[i].Body)
	}
	return out
}

// Reset forgets the recorded requests (Count keeps counting).
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ring = [MaxRecorded]RecordedRequest{}
	s.next, s.full = 0, false
}

// maxServerBody bounds the request body a Server reads: the gateway's
// default body limit.
const maxServerBody = 10 << 20

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.count.Add(1)
	// Read the body before any fault: the request was received, and the
	// server notices a client that gives up only once the body is read.
	body, err := io.ReadAll(io.LimitReader(r.Body, maxServerBody+1))
	rec := RecordedRequest{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body,
	}
	if len(body) > MaxRecordedBody {
		rec.Body, rec.Truncated = bytes.Clone(body[:MaxRecordedBody]), true
	}
	f := s.faults.Load()
	rec.Fault = s.draw(f)
	s.record(rec)
	if err != nil {
		return // the client is gone
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}

	switch rec.Fault {
	case FaultReset:
		reset(w)
		return
	case FaultStall:
		<-r.Context().Done()
		return
	}
	if f.SlowHeaders > 0 {
		t := time.NewTimer(f.SlowHeaders)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if rec.Fault == FaultResetAfterHeaders {
		rw := &resetWriter{w: w}
		s.handler.ServeHTTP(rw, r)
		rw.reset() // a handler that wrote no body still ends in a reset
		return
	}
	s.handler.ServeHTTP(w, r)
}

func (s *Server) draw(f *SocketFaults) string {
	if f.ResetRate == 0 && f.StallRate == 0 && f.ResetAfterHeaders == 0 {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	hit := func(rate float64) bool { return rate > 0 && s.rng.Float64() < rate }
	switch {
	case hit(f.ResetRate):
		return FaultReset
	case hit(f.StallRate):
		return FaultStall
	case hit(f.ResetAfterHeaders):
		return FaultResetAfterHeaders
	}
	return ""
}

func (s *Server) record(r RecordedRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ring[s.next] = r
	s.next++
	if s.next == MaxRecorded {
		s.next, s.full = 0, true
	}
}

// reset hijacks the connection and closes it with SO_LINGER 0, so the
// kernel sends RST rather than FIN: the peer's next read fails with
// ECONNRESET.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // closes the connection, without RST
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

var errResetByTest = errors.New("gatewaytest: connection reset by the test server")

// resetWriter passes the status and headers through, writes half of the
// first body write, flushes it, and resets the connection. Later writes
// fail, so the handler stops and closes its upstream.
type resetWriter struct {
	w    http.ResponseWriter
	done bool
}

func (rw *resetWriter) Header() http.Header { return rw.w.Header() }

func (rw *resetWriter) WriteHeader(code int) {
	if !rw.done {
		rw.w.WriteHeader(code)
	}
}

func (rw *resetWriter) Write(p []byte) (int, error) {
	if rw.done {
		return 0, errResetByTest
	}
	n, _ := rw.w.Write(p[:len(p)/2])
	rw.reset()
	return n, errResetByTest
}

func (rw *resetWriter) reset() {
	if rw.done {
		return
	}
	rw.done = true
	_ = http.NewResponseController(rw.w).Flush()
	reset(rw.w)
}

// The methods http.ResponseController looks for; after the reset they do
// nothing, since the hijacked response must not be touched.
func (rw *resetWriter) FlushError() error {
	if rw.done {
		return errResetByTest
	}
	return http.NewResponseController(rw.w).Flush()
}

func (rw *resetWriter) SetWriteDeadline(t time.Time) error {
	if rw.done {
		return errResetByTest
	}
	return http.NewResponseController(rw.w).SetWriteDeadline(t)
}

func (rw *resetWriter) EnableFullDuplex() error {
	if rw.done {
		return errResetByTest
	}
	return http.NewResponseController(rw.w).EnableFullDuplex()
}
