package billing

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkEnqueue measures the request path's cost of handing a record
// over: the Pipeline's Enqueue (its writer draining and discarding, so the
// log's disk is not what is measured) against a send on a shared buffered
// channel of the same capacity with one receiver, at 1, 2 and 64 sending
// goroutines. Run it with -cpu 1,2.
func BenchmarkEnqueue(b *testing.B) {
	rec := testRecord(1)
	for _, g := range []int{1, 2, 64} {
		b.Run(fmt.Sprintf("pipeline/goroutines=%d", g), func(b *testing.B) {
			cfg := PipelineConfig{Dir: b.TempDir(), Sinks: map[string]Sink{"x": SinkFunc(func(context.Context, []Record) error { return nil })}}
			p, err := newPipeline(cfg.withDefaults(), func(p *Pipeline) { p.discard = true })
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			runSenders(b, g, func() {
				if err := p.Enqueue(rec); err != nil {
					b.Error(err)
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(p.blocked.Load())/float64(b.N), "blocks/op")
			if err := p.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
		b.Run(fmt.Sprintf("chan/goroutines=%d", g), func(b *testing.B) {
			ch := make(chan Record, defaultBuffer)
			done := make(chan struct{})
			go func() {
				for r := range ch {
					_ = r
				}
				close(done)
			}()
			b.ReportAllocs()
			runSenders(b, g, func() { ch <- rec })
			b.StopTimer()
			close(ch)
			<-done
		})
	}
}

// runSenders runs b.N calls of send spread over g goroutines.
func runSenders(b *testing.B, g int, send func()) {
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range g {
		n := b.N / g
		if w < b.N%g {
			n++
		}
		wg.Go(func() {
			for range n {
				send()
			}
		})
	}
	wg.Wait()
}

// BenchmarkPipelineThroughput measures records per second from Enqueue (8
// goroutines) through the write-ahead log to a sink, Close included: the
// JSONL file (synced per batch) and the PostgreSQL ledger. Run it with a
// fixed count, e.g. -benchtime 100000x.
func BenchmarkPipelineThroughput(b *testing.B) {
	b.Run("jsonl", func(b *testing.B) {
		j, err := NewJSONL(JSONLConfig{Path: b.TempDir() + "/usage.jsonl"})
		if err != nil {
			b.Fatal(err)
		}
		defer j.Close()
		benchThroughput(b, j)
	})
	b.Run("postgres", func(b *testing.B) {
		pool, cfg := postgresForTest(b)
		pg, err := NewPostgres(context.Background(), pool, cfg)
		if err != nil {
			b.Fatal(err)
		}
		benchThroughput(b, pg)
	})
}

func benchThroughput(b *testing.B, s Sink) {
	p, err := NewPipeline(PipelineConfig{Dir: b.TempDir(), Sinks: map[string]Sink{"s": s}, BatchSize: 2048})
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]Record, 1024)
	for i := range recs {
		recs[i] = testRecord(i)
	}
	b.ReportAllocs()
	var next atomic.Int64
	runSenders(b, 8, func() {
		n := next.Add(1)
		r := recs[n%1024]
		r.CallID = callIDs[n%int64(len(callIDs))]
		r.Attempt = int(n/int64(len(callIDs))) + 1
		if err := p.Enqueue(r); err != nil {
			b.Error(err)
		}
	})
	if err := p.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	if st := p.Stats().Sinks["s"]; st.Written != uint64(b.N) {
		b.Fatalf("sink wrote %d of %d", st.Written, b.N)
	}
}

// callIDs are distinct keys made once, so the benchmark's records are
// distinct (the sinks dedup) without formatting one per record.
var callIDs = func() []string {
	ids := make([]string, 1<<16)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%d", i)
	}
	return ids
}()

// BenchmarkEnqueueWithRoom measures the hot path alone: the buffer always
// has room (its writer is held until the timer stops), against a send on a
// buffered channel with room and no receiver. Each run sends b.N records
// into a buffer of at least b.N, so run it with a fixed count no larger
// than roomMax, e.g. -benchtime 100000x.
func BenchmarkEnqueueWithRoom(b *testing.B) {
	rec := testRecord(1)
	for _, g := range []int{1, 2, 64} {
		b.Run(fmt.Sprintf("pipeline/goroutines=%d", g), func(b *testing.B) {
			if b.N > roomMax {
				b.Skipf("b.N %d over %d: use -benchtime %dx", b.N, roomMax, roomMax)
			}
			hold := make(chan struct{})
			cfg := PipelineConfig{Dir: b.TempDir(), Sinks: map[string]Sink{"x": SinkFunc(func(context.Context, []Record) error { return nil })}, Buffer: b.N + defaultBatchSize}
			p, err := newPipeline(cfg.withDefaults(), func(p *Pipeline) { p.beforeLog = func() { <-hold } })
			if err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			b.ReportAllocs()
			runSenders(b, g, func() {
				if err := p.Enqueue(rec); err != nil {
					b.Error(err)
				}
			})
			b.StopTimer()
			if n := p.blocked.Load(); n > 0 {
				b.Fatalf("%d Enqueue calls found the buffer full", n)
			}
			close(hold)
			if err := p.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
		b.Run(fmt.Sprintf("chan/goroutines=%d", g), func(b *testing.B) {
			if b.N > roomMax {
				b.Skipf("b.N %d over %d: use -benchtime %dx", b.N, roomMax, roomMax)
			}
			ch := make(chan Record, b.N)
			for range b.N { // touch the buffer's pages, as newRing does the ring's
				ch <- rec
			}
			for range b.N {
				<-ch
			}
			runtime.GC()
			b.ReportAllocs()
			runSenders(b, g, func() { ch <- rec })
		})
	}
}

// roomMax bounds BenchmarkEnqueueWithRoom's buffers (about 300 bytes a
// record).
const roomMax = 1 << 20
