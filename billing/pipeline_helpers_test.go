package billing

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

// testRecord returns a record whose key is (call-<n>, 1).
func testRecord(n int) Record {
	return Record{
		CallID:      fmt.Sprintf("call-%d", n),
		Attempt:     1,
		Time:        time.Date(2026, 12, 1, 12, 0, 0, n, time.UTC),
		KeyID:       "key-1",
		Tenant:      "tenant-a",
		Target:      "openai",
		ModelAsked:  "gpt-4o-mini",
		ModelServed: "gpt-4o-mini-2024-07-18",
		Usage:       gateway.Usage{PromptTokens: 100 + n%7, CompletionTokens: 20, CachedTokens: 64},
		Outcome:     "ok",
		Status:      200,
		Latency:     120 * time.Millisecond,
		TTFT:        40 * time.Millisecond,
		Stream:      n%2 == 0,
		Cost:        int64(1500 + n%11),
		CostKnown:   true,
	}
}

// memSink stores records by key and counts how often each was delivered;
// fail, when set, is asked before each Write and may refuse it.
type memSink struct {
	mu     sync.Mutex
	got    map[recordKey]Record
	deliv  map[recordKey]int
	writes int
	sizes  []int
	fail   func(ctx context.Context, batch []Record) error
}

func newMemSink() *memSink {
	return &memSink{got: map[recordKey]Record{}, deliv: map[recordKey]int{}}
}

func (m *memSink) Write(ctx context.Context, batch []Record) error {
	m.mu.Lock()
	fail := m.fail
	m.writes++
	m.mu.Unlock()
	if fail != nil {
		if err := fail(ctx, batch); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sizes = append(m.sizes, len(batch))
	for _, r := range batch {
		k := recordKey{r.CallID, r.Attempt}
		m.got[k] = r
		m.deliv[k]++
	}
	return nil
}

func (m *memSink) setFail(f func(ctx context.Context, batch []Record) error) {
	m.mu.Lock()
	m.fail = f
	m.mu.Unlock()
}

func (m *memSink) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.got)
}

// requireAll checks that the sink holds exactly records 0..n-1.
func (m *memSink) requireAll(t *testing.T, n int) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	require.Len(t, m.got, n)
	for i := range n {
		k := recordKey{fmt.Sprintf("call-%d", i), 1}
		r, ok := m.got[k]
		require.True(t, ok, "record %d missing", i)
		if want := testRecord(i); r != want { // == first: testify's diff is slow over 100k records
			require.Equal(t, want, r, "record %d changed on its way", i)
		}
	}
}

func (m *memSink) maxBatch() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	mx := 0
	for _, s := range m.sizes {
		mx = max(mx, s)
	}
	return mx
}

// enqueueAll enqueues records 0..n-1 from g goroutines.
func enqueueAll(t *testing.T, p *Pipeline, n, g int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, g)
	for w := range g {
		wg.Go(func() {
			for i := w; i < n; i += g {
				if err := p.Enqueue(testRecord(i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func closePipeline(t *testing.T, p *Pipeline) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, p.Close(ctx))
}

// enqueueRange enqueues records from..to-1 from this goroutine.
func enqueueRange(t *testing.T, p *Pipeline, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		require.NoError(t, p.Enqueue(testRecord(i)))
	}
}
