package cache

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmgate/gateway/internal/clock"
)

// nowSource reads the cache's clock in Unix nanoseconds. With the system
// clock it reads a value a goroutine refreshes every millisecond: a hit
// must cost less than time.Now.
type nowSource struct {
	clk    clock.Clock // nil: coarse
	coarse atomic.Int64
}

const coarseTick = time.Millisecond

func (n *nowSource) start(c clock.Clock, wg *sync.WaitGroup, ctx context.Context) {
	if c != nil {
		n.clk = c
		return
	}
	n.coarse.Store(time.Now().UnixNano())
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(coarseTick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				n.coarse.Store(now.UnixNano())
			}
		}
	}()
}

func (n *nowSource) nanos() int64 {
	if n.clk != nil {
		return n.clk.Now().UnixNano()
	}
	return n.coarse.Load()
}
