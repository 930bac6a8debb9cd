package cache

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// MaxMemoryKeys bounds the keys a MemoryStore holds.
const MaxMemoryKeys = 1 << 20

// ErrStoreFull: a MemoryStore holds MaxMemoryKeys keys already.
var ErrStoreFull = errors.New("cache: the memory store is full")

// MemoryStore is a Store in memory, for the main job's embedded default,
// keys listed in a configuration file, and tests. It is safe for
// concurrent use and holds at most MaxMemoryKeys keys. Its zero value is
// not ready: use NewMemoryStore.
type MemoryStore struct {
	mu       sync.RWMutex
	byDigest map[Digest]*KeyMeta
	byID     map[string]Digest
}

// NewMemoryStore returns a store holding keys, each checked as Create
// checks it; it returns every mistake, joined.
func NewMemoryStore(keys ...KeyMeta) (*MemoryStore, error) {
	s := &MemoryStore{byDigest: make(map[Digest]*KeyMeta, len(keys)), byID: make(map[string]Digest, len(keys))}
	var errs []error
	for i := range keys {
		if err := s.Create(context.Background(), keys[i]); err != nil {
			errs = append(errs, fmt.Errorf("key %d (%q): %w", i, clipID(keys[i].ID), err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Get returns the key with digest d, or ErrNotFound.
func (s *MemoryStore) Get(_ context.Context, d Digest) (KeyMeta, error) {
	s.mu.RLock()
	m, ok := s.byDigest[d]
	s.mu.RUnlock()
	if !ok {
		return KeyMeta{}, ErrNotFound
	}
	return *m, nil
}

// Create adds m.
func (s *MemoryStore) Create(_ context.Context, m KeyMeta) error {
	if err := m.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byID[m.ID]; ok {
		return ErrKeyExists
	}
	if _, ok := s.byDigest[m.Digest]; ok {
		return ErrKeyExists
	}
	if len(s.byID) >= MaxMemoryKeys {
		return ErrStoreFull
	}
	s.byDigest[m.Digest] = &m
	s.byID[m.ID] = m.Digest
	return nil
}

// Update changes the key with id (see Store). change runs under the
// store's lock: it must not call the store.
func (s *MemoryStore) Update(_ context.Context, id string, change func(*KeyMeta) error) (KeyMeta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.byID[id]
	if !ok {
		return KeyMeta{}, ErrNotFound
	}
	old := s.byDigest[d]
	m := *old
	if err := change(&m); err != nil {
		return *old, err
	}
	if err := checkChange(old, &m); err != nil {
		return *old, err
	}
	s.byDigest[d] = &m // a new value: readers of the old one keep theirs
	return m, nil
}

// List calls fn with every key in id order, outside the store's lock.
func (s *MemoryStore) List(ctx context.Context, fn func(KeyMeta) error) error {
	s.mu.RLock()
	ids := slices.Sorted(maps.Keys(s.byID))
	s.mu.RUnlock()
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.mu.RLock()
		d, ok := s.byID[id]
		var m KeyMeta
		if ok {
			m = *s.byDigest[d]
		}
		s.mu.RUnlock()
		if !ok {
			continue
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}
