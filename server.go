package gateway

import (
	"net/http"
	"time"
)

// NewServer returns an *http.Server for h with the timeouts a public gateway
// needs: headers must arrive within 10 s (a slow-loris client cannot hold a
// connection), whole request bodies within 60 s, and idle keep-alive
// connections are closed after 120 s. It sets no WriteTimeout, which would
// cut long streams; Handler bounds each write instead
// (WithStreamWriteTimeout).
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}
