package cache

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// ErrNotFound is what Get returns for a key that does not exist. A Loader
// returns it, wrapped or not, for such a key.
var ErrNotFound = errors.New("cache: not found")

// ErrClosed is what Get returns for a miss after Close.
var ErrClosed = errors.New("cache: closed")

// Loader loads the value of a key from where it is kept (a database, a
// file). It returns an error satisfying errors.Is(err, ErrNotFound) for a
// key that does not exist. It must be safe for concurrent use.
type Loader[K ~string, V any] interface {
	Load(ctx context.Context, key K) (V, error)
}

// LoaderFunc adapts a function to Loader.
type LoaderFunc[K ~string, V any] func(ctx context.Context, key K) (V, error)

// Load calls f(ctx, key).
func (f LoaderFunc[K, V]) Load(ctx context.Context, key K) (V, error) { return f(ctx, key) }

// KeySource is optionally implemented by a Loader: it lists every existing
// key (calling fn for each, stopping at fn's first error), so that the
// Bloom filter can be built and rebuilt. A key that exists when Keys is
// called must be listed. Without one the cache has no Bloom filter: it
// cannot know which keys exist.
type KeySource[K ~string] interface {
	Keys(ctx context.Context, fn func(K) error) error
}

// Cache is a read-through cache of the values of keys: a Bloom filter of
// the keys that exist (when the loader is a KeySource), in front of a
// sharded LRU, in front of an optional Redis level shared by instances, in
// front of the Loader.
//
// Get answers a fresh value from its shard; a stale one (within
// Rules.StaleFor of its TTL) while one background refresh runs; a key the
// filter has never seen, or one recently not found, with ErrNotFound;
// and anything else with one load, however many Gets miss on it at once.
// Invalidate forgets a key here and, with Redis, on every instance; a load
// in flight when it is called stores nothing. Added admits a key the
// filter did not know, here and on every instance.
//
// A Cache is safe for concurrent use. It starts goroutines (loads, the
// filter's rebuilds, the Redis subscriber, the clock): Close stops them.
type Cache[K ~string, V any] struct {
	loader Loader[K, V]
	cfg    Config
	rules  atomic.Pointer[Rules]
	rulesM sync.Mutex // serialises SetRules

	seed   maphash.Seed
	shards []shard[K, V]
	mask   uint64
	keys   KeySource[K] // nil: no filter
	filter *keyIndex    // nil without keys
	l2     *l2[K, V]    // nil without Redis
	now    nowSource

	ctx       context.Context // cancelled by Close
	cancel    context.CancelFunc
	rebuildCh chan struct{}
	wg        sync.WaitGroup
	closed    atomic.Bool
	closeOnce sync.Once
}

// New returns a Cache over l. When l is a KeySource, New lists its keys
// into the Bloom filter before it returns; when cfg.Redis is set, it
// subscribes to the invalidation channel before it returns. Either failing
// fails New.
func New[K ~string, V any](l Loader[K, V], cfg Config) (*Cache[K, V], error) {
	if l == nil {
		return nil, errors.New("cache: nil Loader")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := &Cache[K, V]{
		loader:    l,
		cfg:       cfg,
		seed:      maphash.MakeSeed(),
		shards:    make([]shard[K, V], cfg.Shards),
		mask:      uint64(cfg.Shards - 1),
		rebuildCh: make(chan struct{}, 1),
	}
	r := cfg.Rules
	c.rules.Store(&r)
	for i := range c.shards {
		c.shards[i].init(perShard(r.Size, cfg.Shards), perShard(r.NegativeSize, cfg.Shards))
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.now.start(cfg.Clock, &c.wg, c.ctx)
	ks, hasKeys := l.(KeySource[K])
	if hasKeys {
		c.keys = ks
		c.filter = newKeyIndex(cfg.ExpectedKeys, cfg.FalsePositiveRate)
	}
	if cfg.Redis != nil {
		// Subscribed before the keys are listed: a key another instance
		// adds meanwhile is either listed or announced.
		l2, err := newL2(c)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.l2 = l2
	}
	if hasKeys {
		ctx, cancel := context.WithTimeout(c.ctx, cfg.LoadTimeout)
		err := c.rebuild(ctx)
		cancel()
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("cache: listing the keys: %w", err)
		}
		c.wg.Add(1)
		go c.rebuildLoop()
	}
	return c, nil
}

func (c *Cache[K, V]) shardOf(key K) (*shard[K, V], uint64) {
	h := maphash.String(c.seed, string(key))
	return &c.shards[h&c.mask], h
}

// Get returns key's value, or an error satisfying errors.Is(err,
// ErrNotFound) when it does not exist, or the loader's error. A fresh hit
// takes no lock and does not allocate; it writes one counter, its shard's
// (Stats.Hits), which other cores write only when they hit the same shard.
// ctx bounds this Get's wait, not the load it may start or join, which
// LoadTimeout bounds.
func (c *Cache[K, V]) Get(ctx context.Context, key K) (V, error) {
	s, h := c.shardOf(key)
	e := s.get(key, h)
	if e == nil {
		return c.miss(ctx, s, key, h) // the filter first: a key it refuses costs no lock
	}
	if c.now.nanos() < e.fresh {
		if !e.touched.Load() {
			e.touched.Store(true)
		}
		s.hits.Add(1)
		return e.v, nil
	}
	return c.getLocked(ctx, s, key, h)
}

// getLocked is Get of a key whose entry was not fresh: a stale value
// (served, and refreshed once), an expired one (forgotten), or a miss.
func (c *Cache[K, V]) getLocked(ctx context.Context, s *shard[K, V], key K, h uint64) (V, error) {
	now := c.now.nanos()
	s.mu.Lock()
	if e := s.get(key, h); e != nil {
		switch {
		case now < e.fresh: // stored since the first look
			s.mu.Unlock()
			s.hits.Add(1)
			return e.v, nil
		case now < e.stale:
			s.stats.StaleHits++
			e.touched.Store(true)
			if !e.refreshing {
				e.refreshing = true
				if s.flights[key] == nil {
					c.startLocked(ctx, s, key, h)
				}
			}
			s.mu.Unlock()
			return e.v, nil
		}
		s.lru.Remove(h)
	}
	s.mu.Unlock()
	return c.miss(ctx, s, key, h)
}

// miss asks the filter, then the negative cache, then starts a load or
// joins the one in flight. A key the filter refuses costs no lock.
func (c *Cache[K, V]) miss(ctx context.Context, s *shard[K, V], key K, h uint64) (V, error) {
	var zero V
	if c.filter != nil && !c.filter.mayContain(string(key)) {
		s.reject.Add(1)
		return zero, ErrNotFound
	}
	now := c.now.nanos()
	s.mu.Lock()
	if e := s.get(key, h); e != nil && now < e.fresh {
		s.mu.Unlock()
		s.hits.Add(1)
		return e.v, nil // loaded since the first look
	}
	if until, ok := s.neg.Get(key); ok {
		if now < until {
			s.stats.NegHits++
			s.mu.Unlock()
			return zero, ErrNotFound
		}
		s.neg.Remove(key)
	}
	f := s.flights[key]
	if f == nil {
		if f = c.startLocked(ctx, s, key, h); f == nil {
			s.mu.Unlock()
			return zero, ErrClosed
		}
	}
	s.mu.Unlock()
	return wait(ctx, f)
}

func wait[V any](ctx context.Context, f *flight[V]) (V, error) {
	select {
	case <-f.done:
		return f.v, f.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// startLocked starts a load of key, or returns nil after Close. Called with
// s.mu held: Close takes every shard's lock once after it marks the cache
// closed, so no load starts after Close waits for them.
func (c *Cache[K, V]) startLocked(ctx context.Context, s *shard[K, V], key K, h uint64) *flight[V] {
	if c.closed.Load() {
		return nil
	}
	f := &flight[V]{done: make(chan struct{})}
	s.flights[key] = f
	s.stats.Loads++
	c.wg.Add(1)
	go c.load(context.WithoutCancel(ctx), s, key, h, f)
	return f
}

// load runs one flight: it fetches key's value and, unless the flight was
// detached meanwhile, stores what it found.
func (c *Cache[K, V]) load(parent context.Context, s *shard[K, V], key K, h uint64, f *flight[V]) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(parent, c.cfg.LoadTimeout)
	stop := context.AfterFunc(c.ctx, cancel)
	v, err := c.fetch(ctx, key)
	stop()
	cancel()

	r := c.rules.Load()
	now := c.now.nanos()
	s.mu.Lock()
	if s.flights[key] == f {
		delete(s.flights, key)
		switch {
		case r.Off:
		case err == nil:
			s.neg.Remove(key)
			s.storeLocked(newEntry(key, h, v, now, r))
		case errors.Is(err, ErrNotFound):
			s.forgetLocked(key, h)
			s.neg.Add(key, now+int64(r.NegativeTTL))
		}
		// On any other error a stale value is kept, and served until its
		// StaleFor ends; its entry is not refreshed again.
	}
	f.v, f.err = v, err
	s.mu.Unlock()
	close(f.done)
}

// fetch reads key from Redis, then from the loader; a value loaded is
// written back to Redis unless key was invalidated meanwhile. Redis
// failing is a miss there, never a failed Get.
func (c *Cache[K, V]) fetch(ctx context.Context, key K) (v V, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("cache: loader panicked: %v", p)
		}
	}()
	if c.l2 == nil {
		return c.loader.Load(ctx, key)
	}
	v, gen, found, l2err := c.l2.get(ctx, key)
	if found {
		return v, nil
	}
	if v, err = c.loader.Load(ctx, key); err == nil && l2err == nil && !c.rules.Load().Off {
		c.l2.set(ctx, key, gen, v)
	}
	return v, err
}

func newEntry[K ~string, V any](key K, h uint64, v V, now int64, r *Rules) *entry[K, V] {
	ttl := int64(r.TTL)
	ttl -= int64(float64(ttl) * r.Jitter * rand.Float64())
	return &entry[K, V]{key: key, h: h, v: v, fresh: now + ttl, stale: now + ttl + int64(r.StaleFor)}
}

// SetRules replaces the rules, for the entries stored from now on; a
// smaller Size or NegativeSize evicts the least recently used at once, and
// Off forgets everything held.
func (c *Cache[K, V]) SetRules(r Rules) error {
	if err := r.Validate(); err != nil {
		return err
	}
	r = r.withDefaults()
	c.rulesM.Lock()
	defer c.rulesM.Unlock()
	c.rules.Store(&r)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.resizeLocked(perShard(r.Size, len(c.shards)))
		s.neg.Resize(perShard(r.NegativeSize, len(c.shards)))
		if r.Off {
			s.purgeLocked()
		}
		s.mu.Unlock()
	}
	return nil
}

// Rules returns the rules in force, defaults filled in.
func (c *Cache[K, V]) Rules() Rules { return *c.rules.Load() }

// Close stops every goroutine the cache started, waiting for loads in
// flight (each bounded by LoadTimeout, and cancelled). Hits are still
// served afterwards; misses return ErrClosed. It returns nil.
func (c *Cache[K, V]) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		for i := range c.shards {
			c.shards[i].mu.Lock()
			c.shards[i].mu.Unlock() //nolint:staticcheck // a barrier: no load starts after it
		}
		c.cancel()
		if c.l2 != nil {
			c.l2.close()
		}
		c.wg.Wait()
	})
	return nil
}
