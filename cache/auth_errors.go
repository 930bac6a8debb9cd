package cache

import (
	"net/http"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/hooks"
)

// The refusals of Auth. Each is a *gateway.Error kind: match with
// errors.Is. None ever holds a secret: messages are fixed, and a key is
// named by its id only once it has authenticated. Unlike the package's
// other errors, their messages carry no "cache:" prefix: they are what an
// API caller's SDK shows its user, who has a key problem, not a cache one,
// and they read as OpenAI's do ("Incorrect API key provided").
var (
	// ErrUnauthorized: no key, an unknown key, or one disabled or revoked.
	// 401, code "invalid_api_key", as OpenAI answers a bad key.
	ErrUnauthorized = newSentinel(http.StatusUnauthorized, "invalid_request_error", "invalid_api_key",
		"Incorrect API key provided")
	// ErrIPNotAllowed: the key may not be used from the caller's address,
	// or that address could not be read. 403, code "ip_not_allowed".
	ErrIPNotAllowed = newSentinel(http.StatusForbidden, "permission_error", "ip_not_allowed",
		"This API key may not be used from this address")
	// ErrAuthUnavailable: the key could not be looked up (the store is
	// down and the cache has no answer). 503, code "auth_unavailable",
	// Retry-After 1 s.
	ErrAuthUnavailable = newSentinel(http.StatusServiceUnavailable, "service_unavailable", "auth_unavailable",
		"The API key could not be checked: the key store is unavailable; retry later")
)

func newSentinel(status int, typ, code, msg string) *gateway.Error {
	return hooks.NewSentinel(status, typ, code, msg).(*gateway.Error)
}
