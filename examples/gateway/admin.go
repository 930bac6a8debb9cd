package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/llmgate/gateway/config"
)

// adminServer is the admin listener (admin.listen): /healthz, /readyz, the
// metrics when on and, with admin.pprof, the runtime's profiles, apart from
// the main listener.
type adminServer struct {
	srv    *http.Server
	ln     net.Listener
	served chan error // Serve's error, once it returns
}

// startAdmin listens on gw's admin address and serves its admin handler;
// nil, nil when there is none. An address it cannot listen on is an error:
// the main job refuses to start rather than run without what the operator
// asked for.
func startAdmin(gw *config.Gateway, logger *slog.Logger) (*adminServer, error) {
	h := gw.AdminHandler()
	if h == nil {
		return nil, nil
	}
	ln, err := net.Listen("tcp", gw.AdminListen())
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); gw.AdminPProf() && (ip == nil || !ip.IsLoopback()) {
		logger.Warn("gateway: the admin listener serves profiles beyond loopback with no authentication: anyone who can reach it reads the process's memory profile",
			"addr", ln.Addr().String())
	}
	a := &adminServer{ln: ln, served: make(chan error, 1),
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}}
	go func() { a.served <- a.srv.Serve(ln) }()
	return a, nil
}

// printBanner tells where the admin listener is and what it serves, for
// the start-up banner; metricsPath is empty when the metrics are off.
func (a *adminServer) printBanner(w io.Writer, pprof bool, metricsPath string) {
	if a == nil {
		return
	}
	what := "/healthz, /readyz"
	if metricsPath != "" {
		what += ", " + metricsPath
	}
	if pprof {
		what += ", /debug/pprof/"
	}
	fmt.Fprintf(w, "admin listener: http://%s (%s)\n\n", a.ln.Addr(), what)
}

// failed is the channel of the admin server's failure: nil (never ready)
// without one.
func (a *adminServer) failed() <-chan error {
	if a == nil {
		return nil
	}
	return a.served
}

// shutdown stops the admin server: requests in flight (a CPU profile) get
// up to grace, then their connections are closed. It returns Serve's error
// when it was not the server's closing.
func (a *adminServer) shutdown(grace time.Duration) error {
	if a == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if a.srv.Shutdown(ctx) != nil {
		_ = a.srv.Close()
	}
	if err := <-a.served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
