package config

import (
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/llmgate/gateway/cache"
)

// keyLookup is what Auth looks keys up through and what the key admin tells
// of each change: the metadata cache in front of the store.
type keyLookup interface {
	cache.KeyLookup
	cache.KeyNotifier
}

// Without Redis, a change made by another process (the keys subcommand
// against a PostgreSQL store) reaches a running gateway only when what it
// holds expires: a changed or revoked key within noRedisTTL, a new key
// within noRedisRebuild (the Bloom filter's rebuild). The admin API's
// changes, in the gateway's own process, take effect at once either way,
// and with Redis every change reaches every instance at once.
const (
	noRedisTTL     = 10 * time.Second
	noRedisRebuild = 30 * time.Second
)

// newKeyLookup returns the metadata cache in front of store (its Bloom
// filter built from the store's keys), with Redis as its shared level and
// invalidation channel when r is set (rdb, nil without), and its Close.
func newKeyLookup(store cache.Store, r *redisKeyConf) (_ keyLookup, rdb *redis.Client, _ func(), _ error) {
	cfg := cache.Config{Rules: cache.Rules{TTL: noRedisTTL, NegativeTTL: noRedisTTL}, RebuildEvery: noRedisRebuild}
	if r != nil && r.Addr != "" {
		rdb = redis.NewClient(&redis.Options{Addr: r.Addr})
		cfg = cache.Config{Redis: rdb, RedisPrefix: r.Prefix}
	}
	c, err := cache.New[cache.Digest, cache.KeyMeta](cache.StoreLoader{Store: store}, cfg)
	if err != nil {
		if rdb != nil {
			rdb.Close()
		}
		return nil, nil, nil, err
	}
	return c, rdb, func() {
		c.Close()
		if rdb != nil {
			rdb.Close()
		}
	}, nil
}
