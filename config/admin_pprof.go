package config

import (
	"fmt"
	"html"
	"net/http"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"time"

	"github.com/llmgate/gateway"
)

// pprofPrefix is where the admin listener serves profiles.
const pprofPrefix = "/debug/pprof/"

// Bounds of a CPU profile or an execution trace: how long one runs by
// default, and at most.
const (
	defaultProfileSeconds = 30
	maxProfileSeconds     = 120
)

// pprofHandler serves the runtime's profiles in the format go tool pprof
// reads, as net/http/pprof does. It is written over runtime/pprof because
// importing net/http/pprof registers its handlers on http.DefaultServeMux,
// which would put profiles on any listener of a program that serves
// DefaultServeMux: this package must never do that. GET and HEAD only.
func pprofHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			gateway.WriteError(w, gateway.ErrMethodNotAllowed.WithMessage("gateway: "+pprofPrefix+" takes GET or HEAD"))
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		switch name := strings.TrimPrefix(r.URL.Path, pprofPrefix); name {
		case "":
			pprofIndex(w)
		case "profile":
			cpuProfile(w, r)
		case "trace":
			execTrace(w, r)
		default:
			namedProfile(w, r, name)
		}
	})
}

// pprofIndex lists the profiles.
func pprofIndex(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b strings.Builder
	b.WriteString("<html><head><title>/debug/pprof/</title></head><body><p>Profiles:</p><ul>\n")
	for _, p := range pprof.Profiles() {
		n := html.EscapeString(p.Name())
		fmt.Fprintf(&b, "<li><a href=\"%s?debug=1\">%s</a> (%d)</li>\n", n, n, p.Count())
	}
	b.WriteString("<li><a href=\"profile\">profile</a>: CPU, ?seconds=N (default 30)</li>\n")
	b.WriteString("<li><a href=\"trace?seconds=1\">trace</a>: execution trace, ?seconds=N</li>\n")
	b.WriteString("</ul><p>go tool pprof http://HOST/debug/pprof/heap</p></body></html>\n")
	_, _ = w.Write([]byte(b.String()))
}

// namedProfile writes the profile called name: binary (debug=0, for go
// tool pprof) or text (debug=1 or 2).
func namedProfile(w http.ResponseWriter, r *http.Request, name string) {
	p := pprof.Lookup(name)
	if p == nil {
		gateway.WriteError(w, gateway.ErrNotFound.WithMessage("gateway: unknown profile"))
		return
	}
	debug, _ := strconv.Atoi(r.FormValue("debug"))
	if name == "heap" && r.FormValue("gc") != "" {
		runtime.GC()
	}
	if debug != 0 {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	}
	_ = p.WriteTo(w, debug)
}

// seconds is the request's ?seconds, within 1..maxProfileSeconds.
func seconds(r *http.Request) time.Duration {
	s, err := strconv.Atoi(r.FormValue("seconds"))
	if err != nil || s <= 0 {
		s = defaultProfileSeconds
	}
	return time.Duration(min(s, maxProfileSeconds)) * time.Second
}

// wait waits d, or until the caller leaves.
func wait(r *http.Request, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// cpuProfile runs a CPU profile for ?seconds and writes it.
func cpuProfile(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="profile"`)
	if err := pprof.StartCPUProfile(w); err != nil {
		w.Header().Del("Content-Disposition")
		gateway.WriteError(w, gateway.ErrInternal.WithMessage("gateway: a CPU profile is already running"))
		return
	}
	wait(r, seconds(r))
	pprof.StopCPUProfile()
}

// execTrace runs an execution trace for ?seconds and writes it.
func execTrace(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="trace"`)
	if err := trace.Start(w); err != nil {
		w.Header().Del("Content-Disposition")
		gateway.WriteError(w, gateway.ErrInternal.WithMessage("gateway: a trace is already running"))
		return
	}
	wait(r, seconds(r))
	trace.Stop()
}
