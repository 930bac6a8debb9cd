package cache

import (
	"context"

	"github.com/llmgate/gateway/internal/clock"
)

// rebuildLoop rebuilds the filter every RebuildEvery, and when asked.
func (c *Cache[K, V]) rebuildLoop() {
	defer c.wg.Done()
	clk := clock.Or(c.cfg.Clock)
	for {
		tick, stop := clk.NewTimer(c.cfg.RebuildEvery)
		select {
		case <-c.ctx.Done():
			stop()
			return
		case <-tick:
		case <-c.rebuildCh:
			stop()
		}
		ctx, cancel := context.WithTimeout(c.ctx, c.cfg.LoadTimeout)
		_ = c.rebuild(ctx) // a failed listing keeps the current filter, which rejects no key it admitted
		cancel()
	}
}

func (c *Cache[K, V]) askRebuild() {
	select {
	case c.rebuildCh <- struct{}{}:
	default:
	}
}

// rebuild lists every key into a new filter and publishes it.
func (c *Cache[K, V]) rebuild(ctx context.Context) error {
	b := c.filter.beginRebuild()
	if b == nil {
		return nil
	}
	err := c.keys.Keys(ctx, func(k K) error {
		b.add(string(k))
		return nil
	})
	if err != nil {
		b.abandon()
		return err
	}
	b.publish()
	return nil
}
