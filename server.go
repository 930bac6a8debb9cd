package gateway

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// NewServer returns a Server for h with what a public gateway needs at its
// edge, each a field to change before serving:
//
//   - timeouts: headers must arrive within 10 s (ReadHeaderTimeout: a
//     slow-loris client cannot hold a connection), whole requests within
//     60 s (ReadTimeout; a body still arriving then gets 408 from
//     NewHandler), idle keep-alive connections are closed after 120 s
//     (IdleTimeout), and headers may hold 64 KiB (MaxHeaderBytes). There is
//     no WriteTimeout, which would cut long streams; NewHandler bounds each
//     write instead (WithStreamWriteTimeout).
//   - connections: at most MaxConns (4096) open at once, idle ones
//     included; one more is answered 503 server_overloaded, with
//     Retry-After: 1, in the OpenAI shape, and closed, before it holds
//     anything but its socket.
//   - errors: the requests net/http refuses before any handler runs
//     (malformed: 400; headers too large: 431; an unsupported
//     Transfer-Encoding: 501, Expect: 417, or HTTP version: 505) are
//     answered with the same status in the OpenAI shape
//     {"error":{"message","type","code"}} instead of text/plain.
//
// The bytes of request bodies held at once are NewHandler's to bound
// (Limits.MaxBodyBytesInFlight), since it reads them.
//
//	srv := gateway.NewServer("127.0.0.1:8080", mux)
//	srv.MaxConns = 10000              // the cap is a field,
//	srv.ReadTimeout = 2 * time.Minute // as the embedded http.Server's are
//	log.Fatal(srv.ListenAndServe())
func NewServer(addr string, h http.Handler) *Server {
	return &Server{Server: &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}}
}

// Server is an *http.Server (embedded: its fields and methods are all there)
// whose Serve, ServeTLS, ListenAndServe and ListenAndServeTLS also cap the
// connections held open and answer net/http's own early errors in the
// OpenAI shape (see NewServer). Serving through the embedded
// http.Server's own methods (srv.Server.Serve) bypasses both, and so does
// passing Serve a TLS listener (use ServeTLS). The connections that hooks
// such as ConnState see are wrapped; interface{ NetConn() net.Conn } gives
// the one underneath.
//
// Set its fields before serving; after that it is safe for concurrent use
// as an http.Server is. Every Serve of one Server shares its MaxConns.
type Server struct {
	*http.Server

	// MaxConns caps the connections the server holds open at once, idle
	// keep-alive ones included; a connection over it is answered 503 and
	// closed. Zero means 4096; a negative value makes Serve fail.
	MaxConns int

	conns atomic.Int64 // connections open across every Serve
}

// defaultMaxConns is MaxConns when it is zero: a net/http connection holds
// about 20 KiB while it waits (a goroutine and its buffers), so 4096 idle
// ones hold under 100 MiB.
const defaultMaxConns = 4096

// Serve is http.Server.Serve over ln, with the connection cap and the
// OpenAI-shaped early errors. It returns an error, without serving, if
// MaxConns is negative.
func (s *Server) Serve(ln net.Listener) error {
	el, err := s.edge(ln)
	if err != nil {
		return err
	}
	return s.Server.Serve(el)
}

// ServeTLS is http.Server.ServeTLS over ln, with the connection cap. Over
// TLS net/http's early errors are the only ones not rewritten (they are
// encrypted below the edge), except its answer to plain HTTP sent to the
// TLS port.
func (s *Server) ServeTLS(ln net.Listener, certFile, keyFile string) error {
	el, err := s.edge(ln)
	if err != nil {
		return err
	}
	return s.Server.ServeTLS(el, certFile, keyFile)
}

// ListenAndServe listens on the TCP address s.Addr (":http" when empty) and
// calls Serve.
func (s *Server) ListenAndServe() error {
	ln, err := s.listen(":http")
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// ListenAndServeTLS listens on the TCP address s.Addr (":https" when empty)
// and calls ServeTLS.
func (s *Server) ListenAndServeTLS(certFile, keyFile string) error {
	ln, err := s.listen(":https")
	if err != nil {
		return err
	}
	return s.ServeTLS(ln, certFile, keyFile)
}

func (s *Server) listen(dflt string) (net.Listener, error) {
	addr := s.Addr
	if addr == "" {
		addr = dflt
	}
	return net.Listen("tcp", addr)
}

// edge wraps ln in the connection cap and the early-error rewrite.
func (s *Server) edge(ln net.Listener) (net.Listener, error) {
	if s.MaxConns < 0 {
		ln.Close() // as http.Server.Serve does with every listener it returns from
		return nil, errors.New("gateway: negative Server.MaxConns " + strconv.Itoa(s.MaxConns))
	}
	limit := int64(s.MaxConns)
	if limit == 0 {
		limit = defaultMaxConns
	}
	return newEdgeListener(ln, &s.conns, limit), nil
}
