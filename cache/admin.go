package cache

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/clock"
)

// KeyNotifier is what KeyAdmin tells the metadata cache in front of a store
// (a *Cache[Digest, KeyMeta] is one): a key was created, or changed and
// must be forgotten, here and on every instance.
type KeyNotifier interface {
	Added(ctx context.Context, d Digest) error
	Invalidate(ctx context.Context, d Digest) error
}

// KeySpec is what a new key is made of; its digest, status and times are
// KeyAdmin's to set.
type KeySpec struct {
	ID       string           `json:"id"`
	Tenant   string           `json:"tenant"`
	Priority int              `json:"priority,omitempty"`
	Models   []string         `json:"models,omitempty"`
	IPs      []netip.Prefix   `json:"ips,omitempty"`
	Limits   map[string]int64 `json:"limits,omitempty"`
	Budget   gateway.Budget   `json:"budget,omitzero"`
}

// KeyPatch changes a key's metadata: each field set replaces the key's.
type KeyPatch struct {
	Tenant   *string           `json:"tenant,omitempty"`
	Priority *int              `json:"priority,omitempty"`
	Models   *[]string         `json:"models,omitempty"`
	IPs      *[]netip.Prefix   `json:"ips,omitempty"`
	Limits   *map[string]int64 `json:"limits,omitempty"`
	Budget   *gateway.Budget   `json:"budget,omitempty"`
}

// ErrCacheNotTold: a change was stored, but the cache in front of the
// store was not told; it takes effect when the cached entry expires.
var ErrCacheNotTold = errors.New("cache: the change is stored, but the key cache was not told of it")

// KeyAdmin makes and changes keys in a Store and tells the cache in front
// of it (KeyNotifier), so that a revoked key is refused at once: the one
// place of these rules for the admin API (Handler) and the main job's keys
// subcommand. It is safe for concurrent use.
type KeyAdmin struct {
	store  Store
	notify KeyNotifier // nil: no cache in front of the store
	clock  gateway.Clock
}

// NewKeyAdmin returns the admin of store. notify may be nil (no cache);
// clk nil is the system clock.
func NewKeyAdmin(store Store, notify KeyNotifier, clk gateway.Clock) *KeyAdmin {
	if store == nil {
		panic("cache: nil Store")
	}
	return &KeyAdmin{store: store, notify: notify, clock: clock.Or(clk)}
}

// now is the time stamped on keys, at the precision every store keeps.
func (a *KeyAdmin) now() time.Time { return a.clock.Now().UTC().Truncate(time.Microsecond) }

// Create makes an active key from spec and returns its secret, which
// exists nowhere else: it is shown once and only its digest is stored.
func (a *KeyAdmin) Create(ctx context.Context, spec KeySpec) (secret string, m KeyMeta, err error) {
	secret = NewSecret()
	now := a.now()
	m = KeyMeta{ID: spec.ID, Digest: DigestOf(secret), Tenant: spec.Tenant, Priority: spec.Priority,
		Models: spec.Models, IPs: spec.IPs, Limits: spec.Limits, Budget: spec.Budget,
		Status: StatusActive, Created: now, Updated: now}
	if err := a.store.Create(ctx, m); err != nil {
		return "", KeyMeta{}, err
	}
	if a.notify != nil {
		if err := a.notify.Added(ctx, m.Digest); err != nil {
			return secret, m, fmt.Errorf("%w: %w", ErrCacheNotTold, err)
		}
	}
	return secret, m, nil
}

// SetStatus disables, re-enables or revokes the key with id. A revoked key
// cannot change again (ErrKeyRevoked).
func (a *KeyAdmin) SetStatus(ctx context.Context, id string, s Status) (KeyMeta, error) {
	return a.update(ctx, id, func(m *KeyMeta) error {
		m.Status = s
		return nil
	})
}

// Update applies p to the key with id.
func (a *KeyAdmin) Update(ctx context.Context, id string, p KeyPatch) (KeyMeta, error) {
	return a.update(ctx, id, func(m *KeyMeta) error {
		if p.Tenant != nil {
			m.Tenant = *p.Tenant
		}
		if p.Priority != nil {
			m.Priority = *p.Priority
		}
		if p.Models != nil {
			m.Models = *p.Models
		}
		if p.IPs != nil {
			m.IPs = *p.IPs
		}
		if p.Limits != nil {
			m.Limits = *p.Limits
		}
		if p.Budget != nil {
			m.Budget = *p.Budget
		}
		return nil
	})
}

// update changes the key in the store, then has the cache forget it.
func (a *KeyAdmin) update(ctx context.Context, id string, change func(*KeyMeta) error) (KeyMeta, error) {
	now := a.now()
	m, err := a.store.Update(ctx, id, func(m *KeyMeta) error {
		if err := change(m); err != nil {
			return err
		}
		m.Updated = now
		return nil
	})
	if err != nil {
		return m, err
	}
	if a.notify != nil {
		if err := a.notify.Invalidate(ctx, m.Digest); err != nil {
			return m, fmt.Errorf("%w: %w", ErrCacheNotTold, err)
		}
	}
	return m, nil
}

// List calls fn with every key, in id order.
func (a *KeyAdmin) List(ctx context.Context, fn func(KeyMeta) error) error {
	return a.store.List(ctx, fn)
}
