package breaker

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/failsafe-go/failsafe-go/adaptivelimiter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeLimiter stands in for failsafe-go's adaptive limiter so a test can see
// how each permit ends, without depending on latencies or the wall clock.
type fakeLimiter struct {
	mu      sync.Mutex
	size    int
	permits []*fakePermit
}

type fakePermit struct {
	l              *fakeLimiter
	records, drops atomic.Int32
}

func (p *fakePermit) Record() { p.records.Add(1); p.l.release() }
func (p *fakePermit) Drop()   { p.drops.Add(1); p.l.release() }

func (l *fakeLimiter) release() {
	l.mu.Lock()
	l.size++
	l.mu.Unlock()
}

func (l *fakeLimiter) TryAcquirePermit() (adaptivelimiter.Permit, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.size == 0 {
		return nil, false
	}
	l.size--
	p := &fakePermit{l: l}
	l.permits = append(l.permits, p)
	return p, true
}

func (l *fakeLimiter) AcquirePermit(ctx context.Context) (adaptivelimiter.Permit, error) {
	if p, ok := l.TryAcquirePermit(); ok {
		return p, nil
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func (l *fakeLimiter) Limit() int    { return 1 }
func (l *fakeLimiter) Inflight() int { l.mu.Lock(); defer l.mu.Unlock(); return 1 - l.size }

// last returns the only permit handed out, checking that it ended exactly
// once.
func (l *fakeLimiter) last(t *testing.T) (records, drops int32) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	require.Len(t, l.permits, 1)
	p := l.permits[0]
	records, drops = p.records.Load(), p.drops.Load()
	assert.Equal(t, int32(1), records+drops, "a permit is recorded or dropped exactly once")
	return records, drops
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// An adaptive Bulkhead measures a call (Record) only when it succeeded and
// its body was read to its end or closed by a caller still waiting for it;
// every other ending gives the permit back unmeasured (Drop), exactly once.
func TestBulkheadAdaptiveRecordsOrDropsOnce(t *testing.T) {
	ok := func(body io.Reader) func(*http.Request) (*http.Response, error) {
		return func(req *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Body: io.NopCloser(body), Request: req}, nil
		}
	}
	tests := []struct {
		name   string
		next   func(*http.Request) (*http.Response, error)
		use    func(resp *http.Response, cancel context.CancelFunc)
		record bool
	}{
		{"read to EOF, then closed", ok(strings.NewReader("{}")), func(r *http.Response, _ context.CancelFunc) {
			_, _ = io.ReadAll(r.Body)
			r.Body.Close()
			r.Body.Close()
		}, true},
		{"closed unread", ok(strings.NewReader("{}")), func(r *http.Response, _ context.CancelFunc) { r.Body.Close() }, true},
		{"caller cancelled, then closed", ok(strings.NewReader("{}")), func(r *http.Response, cancel context.CancelFunc) {
			cancel()
			r.Body.Close()
		}, false},
		{"body broke", ok(errReader{}), func(r *http.Response, _ context.CancelFunc) {
			_, _ = io.ReadAll(r.Body)
			r.Body.Close()
		}, false},
		{"500", func(req *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 500, Body: io.NopCloser(strings.NewReader("{}")), Request: req}, nil
		}, func(r *http.Response, _ context.CancelFunc) { r.Body.Close() }, false},
		{"no body", func(req *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
		}, nil, true},
		{"transport error", func(*http.Request) (*http.Response, error) { return nil, errors.New("refused") }, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := NewBulkhead(1, BulkheadConfig{Adaptive: true})
			require.NoError(t, err)
			lim := &fakeLimiter{size: 1}
			b.lim = lim
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://gateway.invalid/v1/chat/completions", nil)
			resp, err := b.Middleware()(roundTripFunc(tt.next)).RoundTrip(req)
			if tt.use != nil {
				require.NoError(t, err)
				tt.use(resp, cancel)
			}
			records, _ := lim.last(t)
			assert.Equal(t, tt.record, records == 1)
			assert.Equal(t, 0, b.InFlight())
		})
	}

	t.Run("panic", func(t *testing.T) {
		b, err := NewBulkhead(1, BulkheadConfig{Adaptive: true})
		require.NoError(t, err)
		lim := &fakeLimiter{size: 1}
		b.lim = lim
		req, _ := http.NewRequest(http.MethodPost, "http://gateway.invalid/v1/chat/completions", nil)
		rt := b.Middleware()(roundTripFunc(func(*http.Request) (*http.Response, error) { panic("provider bug") }))
		assert.Panics(t, func() { _, _ = rt.RoundTrip(req) })
		_, drops := lim.last(t)
		assert.Equal(t, int32(1), drops)
	})

	t.Run("Close racing the last Read", func(t *testing.T) {
		for range 50 {
			b, err := NewBulkhead(1, BulkheadConfig{Adaptive: true})
			require.NoError(t, err)
			lim := &fakeLimiter{size: 1}
			b.lim = lim
			req, _ := http.NewRequest(http.MethodPost, "http://gateway.invalid/v1/chat/completions", nil)
			resp, err := b.Middleware()(roundTripFunc(ok(strings.NewReader("{}")))).RoundTrip(req)
			require.NoError(t, err)
			var wg sync.WaitGroup
			wg.Go(func() { _, _ = io.ReadAll(resp.Body) })
			wg.Go(func() { resp.Body.Close() })
			wg.Wait()
			resp.Body.Close()
			lim.last(t)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
