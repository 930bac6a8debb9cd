package cache

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"time"
	"unsafe"

	"github.com/llmgate/gateway"
)

// KeyLookup finds a key by the digest of its secret: a
// *Cache[Digest, KeyMeta] over a StoreLoader in production, or any Store
// itself (uncached). Get returns ErrNotFound for a key that does not exist.
// Implementations must be safe for concurrent use.
type KeyLookup interface {
	Get(ctx context.Context, d Digest) (KeyMeta, error)
}

// AuthConfig configures Auth. Its zero value trusts no proxy.
type AuthConfig struct {
	// TrustedProxies are the peers whose X-Forwarded-For is believed, as
	// far as it names other trusted proxies: the caller's address is the
	// rightmost entry that is not one. Every other peer's address is the
	// caller's, whatever the header says.
	TrustedProxies []netip.Prefix
}

// Validate reports every invalid prefix, joined.
func (c AuthConfig) Validate() error {
	var errs []error
	for i, p := range c.TrustedProxies {
		if !p.IsValid() {
			errs = append(errs, fmt.Errorf("cache: AuthConfig.TrustedProxies[%d] is no valid prefix", i))
		}
	}
	return errors.Join(errs...)
}

// maxSecretLen bounds the credential Auth reads; longer is no key of ours.
const maxSecretLen = 512

// credentialHeaders are where a caller's key is read from, and what Auth
// removes from the request it passes on.
var credentialHeaders = [...]string{"Authorization", "X-Api-Key", "Api-Key"}

// Auth returns the virtual-key middleware for server mode, outermost after
// the entry point (NewHandler). It reads the caller's key from
// "Authorization: Bearer <key>", "X-Api-Key" or "Api-Key" (one credential:
// two that differ are refused), looks up the digest of it in keys, checks
// that the stored digest equals it in constant time (fixed 32 bytes), that
// the key is active and, when the key has an IP allowlist, that the caller's
// address (see AuthConfig.TrustedProxies) is on it. Then it sets the Call's
// Caller (KeyMeta.Caller) and passes on a copy of the request without the
// credential headers, so no layer below, nor any upstream, can see the key.
//
// Refusals: ErrUnauthorized (401) for no key, an unknown, disabled or
// revoked one; ErrIPNotAllowed (403); ErrAuthUnavailable (503) when keys
// fails otherwise than ErrNotFound. Which models the key may use is
// checked later, on each attempt's model (gateway.Caller.Allows). No error
// holds the key, and the key is never logged.
//
// Inside NewHandler it runs once the body is read and parsed: put
// AuthGuard(keys, cfg) around the handler so that a caller with no valid
// key is refused before that.
//
// It returns an error for an invalid config and panics on a nil keys or
// next. The middleware is safe for concurrent use.
func Auth(keys KeyLookup, cfg AuthConfig) (gateway.Middleware, error) {
	if keys == nil {
		panic("cache: nil KeyLookup")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.TrustedProxies = append([]netip.Prefix(nil), cfg.TrustedProxies...)
	return func(next http.RoundTripper) http.RoundTripper {
		if next == nil {
			panic("cache: nil RoundTripper")
		}
		return &authTransport{keys: keys, cfg: cfg, next: next}
	}, nil
}

type authTransport struct {
	keys KeyLookup
	cfg  AuthConfig
	next http.RoundTripper
}

var (
	errNoKey       = ErrUnauthorized.WithMessage("You didn't provide an API key: send it as Authorization: Bearer <key>")
	errTwoKeys     = ErrUnauthorized.WithMessage("More than one API key in the request")
	errBadKey      = ErrUnauthorized
	errDisabledKey = ErrUnauthorized.WithMessage("The API key is disabled")
	errRevokedKey  = ErrUnauthorized.WithMessage("The API key is revoked")
	errNoCall      = gateway.ErrInternal.WithMessage("cache: no Call in the request context: " +
		"put Auth inside gateway.NewHandler or gateway.NewClient")
	errLookup = ErrAuthUnavailable.WithRetryAfter(time.Second)
)

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var meta KeyMeta
	err := error(errNoCall)
	if gateway.CallFrom(req.Context()) != nil {
		meta, err = t.authenticate(req)
	}
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	gateway.CallFrom(req.Context()).Caller = meta.Caller() // set before dispatch (see gateway.Call)
	return t.next.RoundTrip(withoutCredentials(req))
}

// authenticate returns the key of req, or why it has none. It reads only
// req's headers and RemoteAddr, so that AuthGuard can ask it before the body
// is read.
func (t *authTransport) authenticate(req *http.Request) (KeyMeta, error) {
	ctx := req.Context()
	secret, err := credential(req.Header)
	if err != nil {
		return KeyMeta{}, err
	}
	d := DigestOf(secret)
	meta, err := t.keys.Get(ctx, d)
	switch {
	case errors.Is(err, ErrNotFound):
		return KeyMeta{}, errBadKey
	case err != nil:
		if ctx.Err() != nil {
			return KeyMeta{}, ctx.Err()
		}
		return KeyMeta{}, errLookup // the cause may name the store's host: not for callers
	}
	// The lookup is by digest; that the key found is this one is checked
	// on the full 32 bytes, in constant time.
	if !meta.Digest.Valid() || subtle.ConstantTimeCompare(bytesOfString(string(meta.Digest)), bytesOfString(string(d))) != 1 {
		return KeyMeta{}, errBadKey
	}
	switch meta.Status {
	case StatusActive:
	case StatusDisabled:
		return KeyMeta{}, errDisabledKey
	default:
		return KeyMeta{}, errRevokedKey
	}
	if len(meta.IPs) > 0 {
		addr, ok := clientAddr(req.RemoteAddr, req.Header.Values("X-Forwarded-For"), t.cfg.TrustedProxies)
		if !ok || !meta.AllowsIP(addr) {
			return KeyMeta{}, ErrIPNotAllowed
		}
	}
	return meta, nil
}

// credential returns the one key req carries.
func credential(h http.Header) (string, error) {
	var secret string
	for _, name := range credentialHeaders {
		vs := h[name]
		if len(vs) == 0 {
			continue
		}
		if len(vs) > 1 {
			return "", errTwoKeys
		}
		v := vs[0]
		if name == "Authorization" {
			const bearer = "Bearer "
			if len(v) < len(bearer) || !equalFoldASCII(v[:len(bearer)], bearer) {
				return "", errBadKey
			}
			v = v[len(bearer):]
		}
		if v == "" || len(v) > maxSecretLen {
			return "", errBadKey
		}
		if secret != "" && secret != v {
			return "", errTwoKeys
		}
		secret = v
	}
	if secret == "" {
		return "", errNoKey
	}
	return secret, nil
}

// withoutCredentials returns a shallow copy of req whose headers are the
// same but the credentials.
func withoutCredentials(req *http.Request) *http.Request {
	h := make(http.Header, len(req.Header))
	for k, v := range req.Header {
		if k != "Authorization" && k != "X-Api-Key" && k != "Api-Key" { // credentialHeaders
			h[k] = v
		}
	}
	out := new(http.Request)
	*out = *req
	out.Header = h
	return out
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// bytesOfString views s as bytes, to be read only.
func bytesOfString(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
