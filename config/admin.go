package config

import (
	"net/http"
	"strings"

	"github.com/llmgate/gateway"
)

// adminConf is the admin section: a second listener for operators, off by
// default. It serves /healthz, /readyz and the metrics when on (as the
// main listener does) and, with pprof, the Go runtime's profiles under
// /debug/pprof/, which the main listener never serves. It has no authentication: keep it on loopback or
// a private network.
type adminConf struct {
	Listen string `yaml:"listen"` // host:port; empty: no admin listener
	PProf  bool   `yaml:"pprof"`  // profiles under /debug/pprof/; needs listen
}

// admin checks the admin section.
func (c *checker) admin(a adminConf) {
	if a.Listen != "" {
		c.hostPort("admin.listen", a.Listen, "127.0.0.1:6060")
	} else if a.PProf {
		c.fail("admin.pprof", "needs admin.listen: profiles are served on the admin listener only")
	}
}

// AdminListen is admin.listen: the admin listener's address, empty when
// there is none. Changing it needs a restart.
func (g *Gateway) AdminListen() string { return g.cfg.Admin.Listen }

// AdminPProf reports whether the admin listener serves profiles
// (admin.pprof).
func (g *Gateway) AdminPProf() bool { return g.cfg.Admin.PProf } // the checker refuses pprof without listen

// AdminHandler is the admin listener's URL space, nil without
// admin.listen: GET and HEAD /healthz and /readyz, and the metrics (when
// on), the same answers as the main listener's, and with admin.pprof the runtime's profiles under
// /debug/pprof/ (an index there, /debug/pprof/profile?seconds=N for CPU,
// /debug/pprof/trace?seconds=N, /debug/pprof/NAME for heap, goroutine,
// allocs, block, mutex, threadcreate). Anything else is a 404 in the OpenAI
// shape. It needs no key: serve it where only operators reach it. Its
// settings are those of Build (admin needs a restart); its /readyz follows
// reloads.
func (g *Gateway) AdminHandler() http.Handler {
	if g.cfg.Admin.Listen == "" {
		return nil
	}
	var prof http.Handler
	if g.cfg.Admin.PProf {
		prof = pprofHandler()
	}
	pages := g.pages() // the probes and, when on, the metrics: as on the main listener
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, isPage := pages[r.URL.Path]
		switch p := r.URL.Path; {
		case isPage:
			page.ServeHTTP(w, r)
		case prof != nil && strings.HasPrefix(p, pprofPrefix):
			prof.ServeHTTP(w, r)
		default:
			gateway.WriteError(w, gateway.ErrNotFound.WithMessage("gateway: unknown path on the admin listener"))
		}
	})
}
