package cache

import (
	"net/netip"
	"strings"
)

// maxForwardedHops bounds the X-Forwarded-For entries read for one request.
const maxForwardedHops = 32

// clientAddr returns the caller's address (case 33, tyk 624): the peer's
// (remote, a RemoteAddr), unless the peer is a trusted proxy; then
// X-Forwarded-For (every line of it, as one list) is walked right to left,
// past the trusted proxies, to the first address that is not one, the
// nearest that could have lied. Only trusted proxies are believed; a list
// of trusted proxies only gives its leftmost. ok is false when an address
// that must be read is unparseable (or the walk is over maxForwardedHops):
// such a request is denied, never let through as "unknown".
func clientAddr(remote string, xff []string, trusted []netip.Prefix) (addr netip.Addr, ok bool) {
	peer, ok := parseHost(remote)
	if !ok {
		return netip.Addr{}, false
	}
	if !isTrusted(peer, trusted) {
		return peer, true
	}
	addr, hops := peer, 0
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for line != "" {
			var entry string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				line, entry = line[:j], line[j+1:]
			} else {
				line, entry = "", line
			}
			if hops++; hops > maxForwardedHops {
				return netip.Addr{}, false
			}
			a, ok := parseHost(strings.TrimSpace(entry))
			if !ok {
				return netip.Addr{}, false
			}
			if !isTrusted(a, trusted) {
				return a, true
			}
			addr = a
		}
	}
	return addr, true
}

// parseHost reads an address alone ("10.0.0.1", "::1") or with a port
// ("10.0.0.1:443", "[::1]:443"), as RemoteAddr and proxies write them.
func parseHost(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
