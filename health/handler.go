package health

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/hooks"
)

// ErrNotReady is the answer of /readyz when the gateway is not ready: 503,
// type "service_unavailable", code "not_ready", in the OpenAI error shape,
// its message naming the models no target can serve and the checks that
// failed (names only: never a check's error, which may name a host).
var ErrNotReady = hooks.NewSentinel(http.StatusServiceUnavailable, "service_unavailable", "not_ready",
	"health: not ready").(*gateway.Error)

// Alive returns the liveness handler, for /healthz: 200 "ok" to GET and
// HEAD whatever the upstreams' state (a process that answers is alive; a
// restart mends no upstream), 405 in the OpenAI shape to other methods. It
// reads nothing and needs no auth: mount it outside the auth middleware.
func Alive() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !getOrHead(w, r) {
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
}

// ServeHTTP answers /readyz from Report: 200 {"status":"ready"} when ready,
// else ErrNotReady (503, OpenAI shape) naming what failed; 405 to methods
// other than GET and HEAD. It needs no auth: mount it outside the auth
// middleware. How often the checks run is bounded (ReadinessConfig.CacheFor).
func (r *Readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if !getOrHead(w, req) {
		return
	}
	rep := r.Report(req.Context())
	w.Header().Set("Cache-Control", "no-store")
	if !rep.Ready {
		gateway.WriteError(w, ErrNotReady.WithMessage(rep.message()))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ready"}` + "\n"))
}

func getOrHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	gateway.WriteError(w, gateway.ErrMethodNotAllowed.WithMessage("health: "+r.URL.Path+" takes GET or HEAD"))
	return false
}

// Bounds of a not-ready message: names listed, and each name's length.
const (
	maxNamesShown = 16
	maxNameLen    = 64
)

// message is the not-ready answer's text: which models and checks failed,
// each name quoted and cut, at most maxNamesShown of each.
func (rep Report) message() string {
	var b strings.Builder
	b.WriteString("health: not ready")
	if len(rep.Unservable) > 0 {
		b.WriteString("; no target can serve model ")
		names(&b, len(rep.Unservable), func(i int) string { return rep.Unservable[i] })
	}
	if len(rep.Failed) > 0 {
		b.WriteString("; check failed: ")
		names(&b, len(rep.Failed), func(i int) string { return rep.Failed[i].Name })
	}
	return b.String()
}

func names(b *strings.Builder, n int, name func(int) string) {
	for i := range min(n, maxNamesShown) {
		if i > 0 {
			b.WriteString(", ")
		}
		s := name(i)
		if len(s) > maxNameLen {
			s = s[:maxNameLen] + "…"
		}
		b.WriteString(strconv.Quote(s))
	}
	if n > maxNamesShown {
		b.WriteString(" and " + strconv.Itoa(n-maxNamesShown) + " more")
	}
}
