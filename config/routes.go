package config

import (
	"net/http"
	"strings"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/cache"
	"github.com/llmgate/gateway/health"
)

// routes is the main job's whole URL space: each of pages (/healthz and
// /readyz, and the metrics at metrics.path) serves its exact path, outside
// the key guard and the access log; every other path goes to the gateway's
// handler (api), which serves the OpenAI API and answers anything else with
// a 404 or 405 in the OpenAI shape, and tells the access log.
//
// It is no http.ServeMux on purpose: a ServeMux answers /v1/../v1/models and
// //v1/models with a 307 to the cleaned path (a client that follows it
// resends its POST), and its own 404 and 405 are text/plain. Here nothing
// redirects, every error is an OpenAI-style one, and a path is routed as
// sent: one written with escapes (/v1%2fmodels) is no alias of its unescaped
// form, so it is an unknown path. The one place escapes are read is a model's
// id after a plainly written /v1/models/: an id may hold a '/', which a
// client sends as %2F (openai-go's Models.Get does), and the handler takes
// the id from the unescaped path.
//
// With an admin API (admin, nil without keys.admin_key), /admin/keys and
// what is under it go to it; it answers its own errors in the same shape.
func routes(api, admin http.Handler, pages map[string]http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if admin != nil && (r.URL.Path == cache.AdminPrefix || strings.HasPrefix(r.URL.Path, cache.AdminPrefix+"/")) {
			admin.ServeHTTP(w, r) // as sent: it reads ids escaped (%2F) from the escaped path
			return
		}
		if r.URL.RawPath != "" && !strings.HasPrefix(r.URL.EscapedPath(), modelPrefix) {
			u := *r.URL
			u.Path, u.RawPath = r.URL.EscapedPath(), ""
			r = r.WithContext(r.Context()) // a shallow copy, to hold its own URL
			r.URL = &u
		}
		if p, ok := pages[r.URL.Path]; ok {
			p.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// modelPrefix starts a model's retrieval, GET /v1/models/{id}.
const modelPrefix = "/v1/models/"

// pages are the paths routes serves outside the key guard: the probes
// (/healthz, /readyz) and the metrics, when on.
func (g *Gateway) pages() map[string]http.Handler {
	pages := g.obs.pages()
	if pages == nil {
		pages = map[string]http.Handler{}
	}
	pages[healthzPath], pages[readyzPath] = health.Alive(), g.health.ready
	return pages
}

// writeError answers with e as the gateway's handler does: its status, the
// X-Llmgate-Error mark (gateway.ErrorFromResponse) and the OpenAI-style body.
func writeError(w http.ResponseWriter, e *gateway.Error) { gateway.WriteError(w, e) }
