package config

import (
	"net"
	"strconv"
)

// hostPort checks addr, at path, as a host:port the main job listens on or
// dials over TCP (net.Listen, a Redis client), the one check of every such
// key: it must split into a host and a port, and the port, when there is
// one, must be a number up to 65535 or a service name (net.LookupPort,
// which reads no network). example shows the form in the message. It
// reports whether addr is usable. tracing.endpoint, which the exporter puts
// in a URL, takes a number only (portProblem with names false).
func (c *checker) hostPort(path, addr, example string) bool {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		c.fail(path, "want host:port (e.g. %s)", example)
		return false
	}
	if p := portProblem(port, true); p != "" {
		c.fail(path, "%s", p)
		return false
	}
	return true
}

// portProblem says what is wrong with port, or "" when nothing is: a number
// up to 65535, or when names, a service name. An empty port is left to the
// listener (any free one) or the client (its default).
func portProblem(port string, names bool) string {
	if port == "" {
		return ""
	}
	if _, err := strconv.ParseUint(port, 10, 16); err == nil {
		return ""
	}
	// Not echoed: an address may come from the environment, next to secrets.
	if !names {
		return "its port must be a number up to 65535"
	}
	if _, err := strconv.Atoi(port); err != nil { // not a number: maybe a service name
		if _, err := net.LookupPort("tcp", port); err == nil {
			return ""
		}
	}
	return "its port must be a number up to 65535 or a service name"
}
