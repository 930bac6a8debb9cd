package cache

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/llmgate/gateway"
)

// Digest is the SHA-256 of a key's secret, its 32 bytes held as a string so
// that it can key a Cache. Stores, caches and the admin API hold digests,
// never secrets; Auth compares digests in constant time. Its text form
// (String, MarshalText) is "sha256:" and 64 hex digits.
type Digest string

// DigestOf returns the digest of a secret.
func DigestOf(secret string) Digest {
	sum := sha256.Sum256(bytesOfString(secret)) // read only: no copy of the secret
	return Digest(sum[:])
}

const digestPrefix = "sha256:"

// ParseDigest reads a digest's text form: 64 hex digits, with or without
// the "sha256:" prefix.
func ParseDigest(s string) (Digest, error) {
	h := strings.TrimPrefix(s, digestPrefix)
	if len(h) != 2*sha256.Size {
		return "", fmt.Errorf("cache: a key digest is %q and 64 hex digits", digestPrefix)
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return "", fmt.Errorf("cache: a key digest is %q and 64 hex digits", digestPrefix)
	}
	return Digest(b), nil
}

// Valid reports whether d has the length of a SHA-256.
func (d Digest) Valid() bool { return len(d) == sha256.Size }

// String returns "sha256:" and the digest in hex.
func (d Digest) String() string { return digestPrefix + hex.EncodeToString([]byte(d)) }

// MarshalText returns the String form, so that JSON and YAML hold text.
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses the String form (ParseDigest).
func (d *Digest) UnmarshalText(b []byte) error {
	v, err := ParseDigest(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// SecretPrefix starts every secret NewSecret makes, so that a leaked one is
// recognisable (by secret scanners, say) and a caller's mistake (a provider
// key sent to the gateway) is not.
const SecretPrefix = "sk-llmgate-"

// NewSecret returns a new key secret: SecretPrefix and 256 random bits.
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// Status is a key's state. Only an active key authenticates; a disabled key
// may be enabled again; a revoked key never comes back.
type Status string

// The statuses.
const (
	StatusActive   Status = "active"
	StatusDisabled Status = "disabled"
	StatusRevoked  Status = "revoked"
)

// KeyMeta is what the gateway knows about a virtual key: everything but its
// secret. It is the value a metadata cache holds for the key's Digest and
// what Auth turns into the Call's Caller.
//
// A KeyMeta read from a Store or a cache is shared: its slices and map must
// be read, never written; change a copy with fresh ones (Store.Update).
type KeyMeta struct {
	ID     string `json:"id"` // names the key, in Caller.KeyID, logs and records; it is not the key
	Digest Digest `json:"digest"`
	Tenant string `json:"tenant"`
	// Priority is the caller's priority group (gateway.Caller.Priority).
	Priority int `json:"priority,omitempty"`
	// Models the key may use, matched on the model each attempt sends;
	// empty means any; an entry ending in "*" is a prefix
	// (gateway.Caller.Allows).
	Models []string `json:"models,omitempty"`
	// IPs the key may be used from; empty means anywhere.
	IPs []netip.Prefix `json:"ips,omitempty"`
	// Limits override the limiter's rules for this key, by rule name
	// (gateway.Caller.Limits).
	Limits map[string]int64 `json:"limits,omitempty"`
	// Budget is the key's own spending cap (gateway.Caller.Budget).
	Budget  gateway.Budget `json:"budget,omitzero"`
	Status  Status         `json:"status"`
	Created time.Time      `json:"created"`
	Updated time.Time      `json:"updated"`
}

// Caller returns who calls with this key, for the Call. It shares the key's
// slices and map (gateway.Caller says they are read only) and allocates
// nothing.
func (m *KeyMeta) Caller() gateway.Caller {
	return gateway.Caller{KeyID: m.ID, Tenant: m.Tenant, Priority: m.Priority,
		Models: m.Models, Limits: m.Limits, Budget: m.Budget}
}

// AllowsIP reports whether the key may be used from addr: IPs is empty, or
// one of its prefixes holds addr. An invalid addr (unknown, unparseable) is
// allowed only when IPs is empty.
func (m *KeyMeta) AllowsIP(addr netip.Addr) bool {
	if len(m.IPs) == 0 {
		return true
	}
	addr = addr.Unmap()
	for _, p := range m.IPs {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// maxIDLen bounds a key id, which logs and records repeat.
const maxIDLen = 128

// Validate reports every field a store must not hold, joined: an id that is
// empty, too long or not printable UTF-8, a digest that is no SHA-256, an
// unknown status, a priority out of range, an empty model, a negative limit
// or budget, a budget period other than "", "day" and "month", an invalid
// prefix.
func (m *KeyMeta) Validate() error {
	var errs []error
	if m.ID == "" || len(m.ID) > maxIDLen || !utf8.ValidString(m.ID) || strings.ContainsFunc(m.ID, isControl) {
		errs = append(errs, fmt.Errorf("cache: key id %q must be 1 to %d printable characters", clipID(m.ID), maxIDLen))
	}
	if !m.Digest.Valid() {
		errs = append(errs, errors.New("cache: key digest is no SHA-256"))
	}
	switch m.Status {
	case StatusActive, StatusDisabled, StatusRevoked:
	default:
		errs = append(errs, fmt.Errorf("cache: key status %q is none of active, disabled, revoked", clipID(string(m.Status))))
	}
	if m.Priority < 0 || m.Priority > gateway.PriorityBatch {
		errs = append(errs, fmt.Errorf("cache: key priority %d is outside 0..%d", m.Priority, gateway.PriorityBatch))
	}
	for _, model := range m.Models {
		if model == "" {
			errs = append(errs, errors.New("cache: key models holds an empty name"))
		}
	}
	for i, p := range m.IPs {
		if !p.IsValid() {
			errs = append(errs, fmt.Errorf("cache: key ips[%d] is no valid prefix", i))
		}
	}
	for name, v := range m.Limits {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("cache: key limit %q must be positive", clipID(name)))
		}
	}
	if m.Budget.Limit < 0 {
		errs = append(errs, errors.New("cache: key budget limit is negative"))
	}
	switch m.Budget.Period {
	case "", "day", "month":
	default:
		errs = append(errs, fmt.Errorf("cache: key budget period %q is none of day, month or empty", clipID(m.Budget.Period)))
	}
	if len(errs) == 0 {
		return nil
	}
	return invalidKey{errors.Join(errs...)}
}

// invalidKey is a key a store must not hold; its message is safe to show
// (it never holds a secret).
type invalidKey struct{ error }

func (e invalidKey) Unwrap() error { return e.error }

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func clipID(s string) string {
	if len(s) > maxIDLen {
		s = s[:maxIDLen] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
