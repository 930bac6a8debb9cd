// Package cache holds the metadata cache (a Bloom filter in front of a
// sharded LRU in front of an optional Redis level in front of a loader),
// virtual keys built on it, and the response cache.
//
// # Virtual keys
//
// A virtual key is a secret a caller sends (Authorization: Bearer, or
// X-Api-Key for Anthropic-style clients); the gateway knows it only by its
// SHA-256 Digest. A Store (MemoryStore, PostgresStore) holds each key's
// KeyMeta by digest: id, tenant, priority, allowed models, IP allowlist,
// limit overrides, budget and status. Auth, the middleware just inside the
// entry point, looks the digest up through a KeyLookup (the metadata cache
// over a StoreLoader, or the store itself), puts the key's gateway.Caller
// on the Call and passes on a request without the key. KeyAdmin makes and
// changes keys (its Handler is the admin API) and tells the cache, so that
// a revoked key is refused at once.
//
//	store, _ := cache.NewMemoryStore(keys...)
//	auth, _ := cache.Auth(store, cache.AuthConfig{})
//	h := gateway.NewHandler(gateway.Chain(router, auth, retry))
//
// Which models a key may use is checked by the gateway on the model each
// attempt sends (gateway.Caller.Allows), after every rename and fallback.
package cache
