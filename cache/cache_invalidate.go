package cache

import "context"

// Invalidate forgets key here and, with Redis, on every instance and in
// Redis itself: the next Get loads it. A load of key in flight stores
// nothing here nor in Redis, so it cannot put the old value back. It
// returns Redis's error, after forgetting key here.
func (c *Cache[K, V]) Invalidate(ctx context.Context, key K) error {
	c.forget(key)
	if c.l2 != nil {
		return c.l2.invalidate(ctx, key)
	}
	return nil
}

// Added records that key now exists, so that the filter admits it and a
// not-found answer held for it is forgotten, here and, with Redis, on every
// instance. Call it once the key is where the Loader reads it. It returns
// Redis's error, after admitting key here.
func (c *Cache[K, V]) Added(ctx context.Context, key K) error {
	c.admit(key)
	if c.l2 != nil {
		return c.l2.added(ctx, key)
	}
	return nil
}

func (c *Cache[K, V]) forget(key K) {
	s, h := c.shardOf(key)
	s.mu.Lock()
	s.forgetLocked(key, h)
	s.mu.Unlock()
}

func (c *Cache[K, V]) admit(key K) {
	if c.filter != nil && c.filter.add(string(key)) {
		c.askRebuild()
	}
	c.forget(key)
}

// flush forgets every key here, when invalidations may have been missed.
func (c *Cache[K, V]) flush() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.purgeLocked()
		clear(s.flights)
		s.mu.Unlock()
	}
}
