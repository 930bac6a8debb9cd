package cache

import (
	"context"
	"errors"
)

// Store holds virtual keys by digest: the source of truth a metadata cache
// loads from. Implementations (MemoryStore, PostgresStore) are safe for
// concurrent use, hold digests and never secrets, and check every change
// with checkChange, so that every store keeps the same rules.
type Store interface {
	// Get returns the key whose secret has digest d, whatever its status,
	// or ErrNotFound.
	Get(ctx context.Context, d Digest) (KeyMeta, error)
	// Create adds a key (its Validate must pass); ErrKeyExists when its id
	// or digest is taken.
	Create(ctx context.Context, m KeyMeta) error
	// Update changes the key with id atomically: change gets a copy of it
	// to modify (with fresh slices and maps, never writing the old ones),
	// and the result is stored if it passes checkChange; an error from
	// change is returned as it is. It returns the key as it is now;
	// ErrNotFound when no key has id.
	Update(ctx context.Context, id string, change func(*KeyMeta) error) (KeyMeta, error)
	// List calls fn with every key, in id order, until fn returns an error,
	// which List returns.
	List(ctx context.Context, fn func(KeyMeta) error) error
}

// Errors of the stores and the admin API.
var (
	// ErrKeyExists: a key with that id or digest exists already.
	ErrKeyExists = errors.New("cache: a key with that id or digest exists")
	// ErrKeyRevoked: a revoked key cannot change again.
	ErrKeyRevoked = errors.New("cache: the key is revoked")

	errImmutable = invalidKey{errors.New("cache: a key's id, digest and creation time cannot change")}
)

// checkChange is the one rule for a key's change, in every store: the
// result is valid, its id, digest and creation time stay, and a revoked key
// stays as it was.
func checkChange(old, updated *KeyMeta) error {
	if old.Status == StatusRevoked {
		return ErrKeyRevoked
	}
	if updated.ID != old.ID || updated.Digest != old.Digest || !updated.Created.Equal(old.Created) {
		return errImmutable
	}
	return updated.Validate()
}

// StoreLoader is a Store as the loader of a metadata cache: Load is the
// store's Get, and Keys lists the digests of its keys that are not
// revoked, to fill the cache's Bloom filter (a revoked key is refused as
// surely by being absent).
//
//	keys, err := cache.New[cache.Digest, cache.KeyMeta](cache.StoreLoader{Store: store}, cache.Config{})
type StoreLoader struct{ Store Store }

// Load returns the key with digest d, or ErrNotFound.
func (l StoreLoader) Load(ctx context.Context, d Digest) (KeyMeta, error) {
	return l.Store.Get(ctx, d)
}

// Keys calls fn with the digest of every key not revoked.
func (l StoreLoader) Keys(ctx context.Context, fn func(Digest) error) error {
	return l.Store.List(ctx, func(m KeyMeta) error {
		if m.Status == StatusRevoked {
			return nil
		}
		return fn(m.Digest)
	})
}
