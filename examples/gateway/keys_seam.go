package main

import (
	"context"
	"errors"

	"github.com/llmgate/gateway/cache"
)

// keyLookup is what Auth looks keys up through and what the key admin tells
// of each change: the metadata cache in front of the store.
type keyLookup interface {
	cache.KeyLookup
	cache.KeyNotifier
}

// newKeyLookup returns the lookup in front of store, and its Close.
//
// Until the metadata cache is merged (issue 9, branch h-cache) it is the
// store itself, and a Redis address is refused; then it is
//
//	c, err := cache.New[cache.Digest, cache.KeyMeta](cache.StoreLoader{Store: store}, cache.Config{Redis: …})
//	return c, func() { c.Close() }, err
func newKeyLookup(store cache.Store, redisAddr string) (keyLookup, func(), error) {
	if redisAddr != "" {
		return nil, nil, errors.New("the Redis level needs the metadata cache, which this build lacks")
	}
	return uncached{store}, func() {}, nil
}

// uncached is a store looked up directly: nothing to tell of changes.
type uncached struct{ cache.Store }

func (uncached) Added(context.Context, cache.Digest) error      { return nil }
func (uncached) Invalidate(context.Context, cache.Digest) error { return nil }
