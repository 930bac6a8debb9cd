// # The metadata cache
//
// New returns a read-through Cache over a Loader (the store). A lookup
// passes a funnel, and stops at the first level that can answer:
//
//	Get(key)
//	  sharded LRU       a fresh value: no lock, no shared write, no allocation
//	                    a stale value: served while one refresh runs in the background
//	                    a recent not-found: ErrNotFound (bounded negative cache)
//	  Bloom filter      a key that was never listed or added: ErrNotFound, lock-free
//	  one load per key  every concurrent miss of a key waits for the same load:
//	    Redis (optional)  the value another instance loaded
//	    Loader            the store
//
// The filter exists when the Loader is also a KeySource: New lists every
// key into it, it is rebuilt every Config.RebuildEvery (forgetting removed
// keys), and Added puts a new key in at once. It never rejects a key that
// exists: see keyIndex for why, and TestBloomNeverRejectsAnExistingKeyWhileKeysAreAddedConcurrently.
//
// Invalidate forgets a key, and a load of it in flight stores nothing, so
// a revoked key cannot come back from a load that started before. With
// Config.Redis, Invalidate and Added reach every instance over Redis
// pub/sub (in milliseconds; TestRedisRevocationOnARefusedOnBWithinOneSecond),
// the Redis level refuses a write from a load that started before an
// Invalidate, and an instance whose subscription was lost forgets
// everything it holds when it subscribes again, since it may have missed
// events.
//
//	c, err := cache.New[string, Meta](store, cache.Config{Redis: rdb})
//	if err != nil { … }
//	defer c.Close()
//	meta, err := c.Get(ctx, digest) // errors.Is(err, cache.ErrNotFound) for an unknown key
//
// # The response cache
//
// ResponseCache.Middleware keeps the answers of cacheable calls (an
// embedding, temperature 0, or the request header X-Llmgate-Cache: on;
// never with X-Llmgate-Cache: off) and serves them again, streams as
// streams, to identical calls of the same tenant; identical calls in flight
// share one upstream call. The response header X-Llmgate-Cache-Status and
// Call.CacheResult say "hit", "shared" or "miss".
//
//	rc, err := cache.NewResponseCache(cache.ResponseConfig{TTL: 10 * time.Minute})
//	rt := gateway.Chain(provider, auth, rc.Middleware(), meter, retry)
package cache
