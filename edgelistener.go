package gateway

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// edgeListener is the listener a Server serves: it counts the connections
// open in conns (shared by every Serve of the Server), answers one over
// limit 503 and closes it, and hands the server edgeConns, which rewrite
// net/http's early errors. Safe for concurrent use.
type edgeListener struct {
	net.Listener
	conns *atomic.Int64
	limit int64

	mu        sync.Mutex
	closed    bool
	lingering map[net.Conn]struct{} // refused connections still draining, at most maxLingering
	wg        sync.WaitGroup
}

// A refused connection is answered, its write side closed, and what the
// client sends read and dropped for a short while before it is closed, so
// that the close does not reset the connection under the answer (a reset
// can discard it before the client reads it). At most maxLingering do so at
// once; past that a refused connection is closed at once after its answer.
const (
	maxLingering   = 64
	lingerTime     = 500 * time.Millisecond
	lingerBytes    = 64 << 10
	refusalTimeout = 100 * time.Millisecond // for the answer's write
)

// tooManyConnsReply is the raw answer to a connection over the cap.
var tooManyConnsReply = rawErrorResponse("HTTP/1.1", errTooManyConns)

func newEdgeListener(ln net.Listener, conns *atomic.Int64, limit int64) *edgeListener {
	return &edgeListener{Listener: ln, conns: conns, limit: limit, lingering: make(map[net.Conn]struct{})}
}

// Accept returns the next connection within the cap, refusing those over it.
func (l *edgeListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if _, ok := c.(*tls.Conn); ok {
			// A TLS listener passed to Serve: wrapping its connections would
			// hide them from net/http's TLS and HTTP/2 handling, so they are
			// served as they are, uncounted (ServeTLS counts them).
			return c, nil
		}
		if l.conns.Add(1) <= l.limit {
			return &edgeConn{Conn: c, conns: l.conns}, nil
		}
		l.conns.Add(-1)
		l.refuse(c)
	}
}

// refuse answers c 503 and closes it, lingering when a place is free.
func (l *edgeListener) refuse(c net.Conn) {
	_ = c.SetWriteDeadline(time.Now().Add(refusalTimeout))
	_, err := c.Write(tooManyConnsReply)
	cw, ok := c.(interface{ CloseWrite() error })
	if err != nil || !ok || cw.CloseWrite() != nil || !l.startLinger(c) {
		c.Close()
		return
	}
	go func() {
		defer l.wg.Done()
		_ = c.SetReadDeadline(time.Now().Add(lingerTime))
		_, _ = io.Copy(io.Discard, io.LimitReader(c, lingerBytes))
		l.mu.Lock()
		delete(l.lingering, c)
		l.mu.Unlock()
		c.Close()
	}()
}

func (l *edgeListener) startLinger(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || len(l.lingering) >= maxLingering {
		return false
	}
	l.lingering[c] = struct{}{}
	l.wg.Add(1)
	return true
}

// Close closes the listener and every refused connection still lingering,
// and waits for their goroutines, which then end at once.
func (l *edgeListener) Close() error {
	err := l.Listener.Close()
	l.mu.Lock()
	l.closed = true
	for c := range l.lingering {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
	return err
}

// edgeConn is a served connection: it leaves the count when it is first
// closed, and rewrites net/http's early errors (earlyerror.go) as they are
// written.
type edgeConn struct {
	net.Conn
	conns  *atomic.Int64
	closed atomic.Bool
}

func (c *edgeConn) Write(p []byte) (int, error) {
	if reply := earlyErrorReply(p); reply != nil {
		if _, err := c.Conn.Write(reply); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *edgeConn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.conns.Add(-1)
	}
	return err
}

// NetConn returns the connection it wraps, as tls.Conn.NetConn does: a
// ConnState or ConnContext hook that needs the *net.TCPConn asks for it
// with interface{ NetConn() net.Conn }.
func (c *edgeConn) NetConn() net.Conn { return c.Conn }

// CloseWrite half-closes the connection, as net/http does before it closes
// one it refused (http: closeWriteAndWait).
func (c *edgeConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps the kernel's copy (sendfile, splice) for response bodies
// that net/http copies from a file: they are bodies, never early errors.
func (c *edgeConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}
