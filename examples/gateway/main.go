// Command gateway is the main job: an OpenAI-compatible gateway server.
//
//	go run ./examples/gateway                      # three simulated providers, a demo key printed at start
//	go run ./examples/gateway -config gateway.yaml # real providers (README.md, "Configuration")
//	go run ./examples/gateway keys create -id team-a -tenant acme  # manage the configured key store
//
// It listens on 127.0.0.1:8080 (-addr to change), prints curl lines to try
// it, logs one line per call with log/slog, and shuts down gracefully on
// SIGINT or SIGTERM, draining its usage records to their sinks. With
// admin.listen it serves /healthz, /readyz, the metrics and (admin.pprof)
// profiles on a second listener, which the same shutdown stops. With
// -config it reloads the file when it changes and on SIGHUP (config.Reload
// says what applies live). With a keys
// section (the embedded default has one) every call needs a virtual key;
// without one it serves every caller, so keep such a gateway on loopback or
// behind something that authenticates.
//
// Exit status: 0 after a clean shutdown, 1 when it cannot serve (the address
// or admin.listen is taken, the usage pipeline cannot open), 2 for a usage
// or configuration error.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/cache"
	"github.com/llmgate/gateway/config"
)

func main() {
	tuneGC(os.LookupEnv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal during the shutdown ends the process at once
	}()
	signal.Notify(hups, syscall.SIGHUP) // from the start: a SIGHUP while it builds waits for serve
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// hups receives SIGHUP (main registers it before anything else, so that a
// SIGHUP during the start does not end the process); serve reloads the
// configuration file at each. It holds one: SIGHUPs that arrive together
// are one reload.
var hups = make(chan os.Signal, 1)

// run is the whole program: it parses args, loads and builds the
// configuration, serves until ctx ends, then shuts down and returns the exit
// status. The address it listens on goes to stdout in the line
// "listening on http://ADDR", logs go to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "keys" {
		return runKeys(ctx, args[1:], stdout, stderr) // keys_cmd.go
	}
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", config.DefaultListen, "listen address; overrides the configuration's listen")
	cfgPath := fs.String("config", "", "YAML configuration `file`; without it, three simulated providers")
	check := fs.Bool("check", false, "check the configuration, print a summary and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gateway: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	f, err := loadFile(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	logger, closeLogs := config.NewLogger(stderr, f.Logging) // one line per call, kept off the calls' path
	defer closeLogs()
	gw, err := config.Build(f, config.Options{Logger: logger, UsageFile: usageFile})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	defer gw.Close()
	if *check {
		fmt.Fprintf(stdout, "%s: OK: %d providers, targets %v, models %v\n",
			cmp.Or(*cfgPath, config.EmbeddedName), gw.Providers(), gw.Targets(), gw.Models())
		return 0
	}
	if err := gw.Start(ctx); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	listen := gw.Listen()
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "addr" {
			listen = *addr
		}
	})
	return serve(ctx, gw, *cfgPath, listen, stdout, logger)
}

// usageFile is where usage records go without billing.sinks; the tests
// point it at a temporary directory.
var usageFile = config.DefaultUsageFile

// loadFile reads the configuration at path, or the embedded default
// (config.Embedded) without one.
func loadFile(path string) (*config.File, error) {
	if path == "" {
		return config.Parse(config.EmbeddedName, []byte(config.Embedded), os.LookupEnv)
	}
	return config.Load(path, os.LookupEnv)
}

// shutdownGrace is how long calls cut at the end of the shutdown timeout
// have to tell their callers (a terminal error event, a 503) before the
// server closes their connections.
const shutdownGrace = time.Second

// serve serves a on listen until ctx ends, then shuts the server down: it
// stops accepting and lets calls in flight finish for up to the shutdown
// timeout. Then it ends the calls left, with gateway.ErrShuttingDown as
// their context's cause: each stream ends with a server_shutting_down
// error event and each call not answered yet gets it as a 503, within
// shutdownGrace, after which the server closes what is left.
func serve(ctx context.Context, gw *config.Gateway, cfgPath, listen string, stdout io.Writer, logger *slog.Logger) int {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		logger.Error("gateway: cannot listen", "addr", listen, "error", err)
		return 1
	}
	admin, err := startAdmin(gw, logger)
	if err != nil {
		ln.Close()
		logger.Error("gateway: cannot listen on admin.listen", "addr", gw.AdminListen(), "error", err)
		return 1
	}
	base, cancelBase := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelBase(gateway.ErrShuttingDown)
	srv := gateway.NewServer(ln.Addr().String(), gw.Handler())
	srv.BaseContext = func(net.Listener) context.Context { return base }
	srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	srv.MaxConns = gw.MaxConns() // 0: the default; the checker refused a negative one

	host, _, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); !gw.Keys().Required && (ip == nil || !ip.IsLoopback()) {
		logger.Warn("gateway: listening beyond loopback with no authentication: anyone who can reach it spends the providers' keys", "addr", ln.Addr().String())
	}
	var banner strings.Builder // one write: whoever reads the address finds the limits and the usage paths too
	printBanner(&banner, ln.Addr().(*net.TCPAddr), gw.Models(), gw.Keys(), gw.MetricsPath())
	admin.printBanner(&banner, gw.AdminPProf(), gw.MetricsPath())
	gw.WriteSummary(&banner)
	_, _ = io.WriteString(stdout, banner.String())

	if cfgPath != "" { // the file is watched; the embedded default has none
		w, err := config.Watch(cfgPath, os.LookupEnv, gw)
		if err != nil {
			logger.Warn("gateway: cannot watch the configuration file; SIGHUP still reloads it", "file", cfgPath, "error", err)
		} else {
			defer w.Close()
		}
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	for running := true; running; {
		select {
		case err := <-served:
			logger.Error("gateway: server failed", "error", err)
			_ = admin.shutdown(shutdownGrace)
			return 1
		case err := <-admin.failed():
			logger.Error("gateway: admin server failed", "error", err)
			_ = srv.Close()
			return 1
		case <-hups:
			reloadOnSignal(cfgPath, gw, logger)
		case <-ctx.Done():
			running = false
		}
	}
	timeout := gw.ShutdownTimeout()
	gw.Drain() // /readyz (here until the listener closes, on the admin listener until the end) says so
	logger.Info("gateway: shutting down", "timeout", timeout)
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("gateway: calls still in flight after the shutdown timeout; ending them", "error", err)
		cancelBase(gateway.ErrShuttingDown)
		gctx, cancelGrace := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancelGrace()
		if srv.Shutdown(gctx) != nil {
			_ = srv.Close()
		}
	}
	cancelBase(gateway.ErrShuttingDown) // handlers still running after Close: their upstream calls end
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		logger.Error("gateway: server failed", "error", err)
		_ = admin.shutdown(shutdownGrace)
		return 1
	}
	// The admin listener answers /readyz until the main one has stopped.
	if err := admin.shutdown(shutdownGrace); err != nil {
		logger.Error("gateway: admin server failed", "error", err)
	}
	// A call the server gave up on is ending (its base context is
	// cancelled): Stop waits for its records, then the usage pipeline
	// drains, for up to the shutdown timeout again; what it cannot deliver
	// waits in its write-ahead log for the next start.
	pctx, cancelDrain := context.WithTimeout(context.Background(), timeout)
	defer cancelDrain()
	_ = gw.Stop(pctx)
	logger.Info("gateway: stopped")
	return 0
}

// reloadOnSignal is SIGHUP: it reloads the file at path into gw (which
// logs and counts the outcome), or logs that the embedded default (path
// empty) has no file to reload.
func reloadOnSignal(path string, gw *config.Gateway, logger *slog.Logger) {
	if path == "" {
		logger.Info("gateway: SIGHUP: nothing to reload, the gateway runs the embedded default (no -config)")
		return
	}
	logger.Info("gateway: SIGHUP: reloading the configuration", "file", path)
	_ = config.ReloadFrom(path, os.LookupEnv, gw) // logs and counts the outcome
}

// printBanner prints the address and curl lines to try the gateway with, in
// one write; with keys, the header to send, with the demo key when there is
// one (its secret is printed here and nowhere else); and where the metrics
// are scraped (metricsPath empty: they are off).
func printBanner(w io.Writer, addr *net.TCPAddr, models []string, keys config.Keys, metricsPath string) {
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	base := "http://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
	model := "gpt-4o-mini"
	if len(models) > 0 && !slices.Contains(models, model) {
		model = models[0]
	}
	listed := strings.Join(models, ", ")
	if listed == "" {
		listed = "any the providers serve"
	}
	chat := `{"model":"` + model + `","messages":[{"role":"user","content":"Hello!"}]}`
	stream := `{"model":"` + model + `","stream":true,"messages":[{"role":"user","content":"Hello!"}]}`
	var b strings.Builder
	fmt.Fprintf(&b, "llmgate gateway listening on %s\npid: %d (stop it with kill %d)\nmodels: %s\n", base, os.Getpid(), os.Getpid(), listed)
	auth := ""
	switch {
	case !keys.Required:
		b.WriteString("keys: none required (no keys section)\n")
	case keys.DemoSecret != "":
		fmt.Fprintf(&b, "key: %s (id %s, tenant %s; a new one at each start)\n", keys.DemoSecret, keys.DemoID, keys.DemoID)
		auth = " -H 'Authorization: Bearer " + keys.DemoSecret + "'"
	default:
		b.WriteString("keys: required (Authorization: Bearer <key>)\n")
		auth = ` -H "Authorization: Bearer $LLMGATE_KEY"`
	}
	if keys.AdminAPI {
		fmt.Fprintf(&b, "admin API: %s%s (Authorization: Bearer <admin key>)\n", base, cache.AdminPrefix)
	}
	if metricsPath != "" {
		fmt.Fprintf(&b, "metrics: %s%s (Prometheus, no key)\n", base, metricsPath)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "chat:\n  curl -s %s/v1/chat/completions%s -H 'Content-Type: application/json' -d '%s'\n", base, auth, chat)
	fmt.Fprintf(&b, "stream:\n  curl -sN %s/v1/chat/completions%s -H 'Content-Type: application/json' -d '%s'\n", base, auth, stream)
	fmt.Fprintf(&b, "models:\n  curl -s %s/v1/models%s\n", base, auth)
	fmt.Fprintf(&b, "anthropic messages:\n  curl -s %s/v1/messages%s -H 'Content-Type: application/json' -d '%s'\n\n", base, auth, messagesBody(model))
	_, _ = io.WriteString(w, b.String())
}

// messagesBody is the banner's example of the Anthropic-format front door.
func messagesBody(model string) string {
	return `{"model":"` + model + `","max_tokens":64,"messages":[{"role":"user","content":"Hello!"}]}`
}
