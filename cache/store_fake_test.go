package cache

import (
	"context"
	"sync"
	"sync/atomic"
)

// testStore is a Loader and KeySource over a map, counting its loads. When
// gate is set, each load waits for it to be closed (or receives on it),
// after telling entered.
type testStore struct {
	mu      sync.Mutex
	m       map[string]string
	loads   atomic.Int64
	gate    chan struct{}
	entered chan string
	noKeys  bool
}

func newTestStore(kv ...string) *testStore {
	s := &testStore{m: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		s.m[kv[i]] = kv[i+1]
	}
	return s
}

func (s *testStore) put(k, v string) {
	s.mu.Lock()
	s.m[k] = v
	s.mu.Unlock()
}

func (s *testStore) del(k string) {
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
}

func (s *testStore) Load(ctx context.Context, key string) (string, error) {
	s.loads.Add(1)
	if s.entered != nil {
		s.entered <- key
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return "", ErrNotFound
	}
	return v, nil
}

func (s *testStore) Keys(ctx context.Context, fn func(string) error) error {
	s.mu.Lock()
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	s.mu.Unlock()
	for _, k := range keys {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

// loaderOnly hides a testStore's KeySource: a cache over it has no filter.
type loaderOnly struct{ s *testStore }

func (l loaderOnly) Load(ctx context.Context, key string) (string, error) { return l.s.Load(ctx, key) }
