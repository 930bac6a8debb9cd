package billing

import (
	"context"
	"fmt"
	"sync"
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
