package provider

import (
	"net"
	"net/http"
	"time"
)

// NewTransport returns a new *http.Transport tuned for AI traffic, the one
// each provider (NewOpenAI, NewAnthropic, NewGemini) gets when its config
// names no Transport: keep-alives, up to 128 idle connections a host (net/http's
// default of 2 would reconnect under load), HTTP/2 when the upstream
// offers it, a 10 s dial and TLS handshake timeout, the environment's proxy
// settings, and no response header timeout, since a model may take long to
// send its first token (bound calls with contexts or the breaker package's
// timeouts).
//
// Use it as the base of a transport that wraps a provider's (a tracing
// layer, say), so that the provider keeps this tuning. Each call returns a
// transport of its own, with its own connection pool; its
// CloseIdleConnections closes that pool's idle connections.
func NewTransport() *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           512,
		MaxIdleConnsPerHost:    128,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 256 << 10,
		// ResponseHeaderTimeout stays 0: a model may think for minutes before
		// its first token.
	}
}
