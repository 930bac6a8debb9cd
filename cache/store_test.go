package cache_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/cache"
)

var storeEpoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// testStore is the contract every Store keeps, run against each.
func testStore(t *testing.T, s cache.Store) {
	ctx := context.Background()
	secret, a := newKey("a", "acme")
	a.Created, a.Updated = storeEpoch, storeEpoch
	a.Priority, a.Models = 2, []string{"gpt-4o*", "o1"}
	a.IPs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	a.Limits, a.Budget = map[string]int64{"rpm": 60, "tpm": 1000}, gateway.Budget{Limit: 3e9, Period: "month"}
	require.NoError(t, s.Create(ctx, a))
	_, b := newKey("b", "other")
	b.Created, b.Updated = storeEpoch, storeEpoch
	require.NoError(t, s.Create(ctx, b))

	got, err := s.Get(ctx, cache.DigestOf(secret))
	require.NoError(t, err)
	assert.Equal(t, a.ID, got.ID)
	assert.Equal(t, a.Digest, got.Digest)
	assert.Equal(t, a.Tenant, got.Tenant)
	assert.Equal(t, a.Priority, got.Priority)
	assert.Equal(t, a.Models, got.Models)
	assert.Equal(t, a.IPs, got.IPs)
	assert.Equal(t, a.Limits, got.Limits)
	assert.Equal(t, a.Budget, got.Budget)
	assert.Equal(t, cache.StatusActive, got.Status)
	assert.True(t, a.Created.Equal(got.Created), "%v %v", a.Created, got.Created)

	_, err = s.Get(ctx, cache.DigestOf(cache.NewSecret()))
	assert.ErrorIs(t, err, cache.ErrNotFound)

	// Taken id, taken digest, invalid key.
	dupID := b
	dupID.Digest = cache.DigestOf(cache.NewSecret())
	assert.ErrorIs(t, s.Create(ctx, dupID), cache.ErrKeyExists)
	dupDigest := a
	dupDigest.ID = "c"
	assert.ErrorIs(t, s.Create(ctx, dupDigest), cache.ErrKeyExists)
	bad := b
	bad.ID, bad.Status = "", "weird"
	assert.Error(t, s.Create(ctx, bad))

	// Update: disable, re-enable, change metadata; the rules hold.
	later := storeEpoch.Add(time.Hour)
	m, err := s.Update(ctx, "a", func(m *cache.KeyMeta) error {
		m.Status, m.Updated = cache.StatusDisabled, later
		m.Models = []string{"gpt-4.1"}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, cache.StatusDisabled, m.Status)
	got, err = s.Get(ctx, a.Digest)
	require.NoError(t, err)
	assert.Equal(t, cache.StatusDisabled, got.Status)
	assert.Equal(t, []string{"gpt-4.1"}, got.Models)
	assert.True(t, later.Equal(got.Updated))

	boom := errors.New("boom")
	_, err = s.Update(ctx, "a", func(*cache.KeyMeta) error { return boom })
	assert.ErrorIs(t, err, boom)
	_, err = s.Update(ctx, "a", func(m *cache.KeyMeta) error { m.Digest = b.Digest; return nil })
	assert.Error(t, err, "the digest cannot change")
	_, err = s.Update(ctx, "a", func(m *cache.KeyMeta) error { m.Priority = 9; return nil })
	assert.Error(t, err, "the result is validated")
	_, err = s.Update(ctx, "nobody", func(*cache.KeyMeta) error { return nil })
	assert.ErrorIs(t, err, cache.ErrNotFound)

	_, err = s.Update(ctx, "a", func(m *cache.KeyMeta) error { m.Status = cache.StatusRevoked; return nil })
	require.NoError(t, err)
	_, err = s.Update(ctx, "a", func(m *cache.KeyMeta) error { m.Status = cache.StatusActive; return nil })
	assert.ErrorIs(t, err, cache.ErrKeyRevoked, "a revoked key never comes back")

	var ids []string
	require.NoError(t, s.List(ctx, func(m cache.KeyMeta) error { ids = append(ids, m.ID); return nil }))
	assert.Equal(t, []string{"a", "b"}, ids)
	stop := errors.New("stop")
	n := 0
	assert.ErrorIs(t, s.List(ctx, func(cache.KeyMeta) error { n++; return stop }), stop)
	assert.Equal(t, 1, n)

	var digests []cache.Digest
	require.NoError(t, cache.StoreLoader{Store: s}.Keys(ctx, func(d cache.Digest) error { digests = append(digests, d); return nil }))
	assert.Equal(t, []cache.Digest{b.Digest}, digests, "revoked keys are not fed to the Bloom filter")
}

func TestMemoryStore(t *testing.T) { testStore(t, must(cache.NewMemoryStore())) }

func TestNewMemoryStoreReportsEveryBadKey(t *testing.T) {
	_, a := newKey("a", "t")
	_, err := cache.NewMemoryStore(a, a, cache.KeyMeta{ID: "x"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `key 1 ("a")`)
	assert.Contains(t, err.Error(), `key 2 ("x")`)
}
