package config

import (
	"fmt"
	"net/http"
	"path"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/billing"
	"github.com/llmgate/gateway/cache"
	"github.com/llmgate/gateway/metrics"
)

// DefaultMetricsPath is where Handler serves the metrics without
// metrics.path.
const DefaultMetricsPath = "/metrics"

// metricsConf is the metrics section: the Prometheus metrics of package
// metrics, on unless disable, served by Handler at path. README.md,
// "Configuration", documents each key.
type metricsConf struct {
	Disable bool   `yaml:"disable"`
	Path    string `yaml:"path"` // default DefaultMetricsPath
	// Models are the models labelled by name (metrics.Config.Models:
	// names, or patterns ending in "*"); without the key, every model the
	// file names (File.ModelNames). The rest are "other".
	Models []string `yaml:"models"`
	// Tenants adds a tenant label (metrics.Config.Tenants): true for the
	// tenants the file names (fileTenants), or a list of them; false or
	// left out, none. Read as any so that both forms are one key.
	Tenants any `yaml:"tenants"`
}

// metricsPlan is the metrics section checked.
type metricsPlan struct {
	on   bool
	path string
	cfg  metrics.Config // Models and Tenants
}

// metricsSection checks the metrics section, whether or not it is on.
func (c *checker) metricsSection(f *File) metricsPlan {
	m := &f.Metrics
	p := metricsPlan{on: !m.Disable, path: DefaultMetricsPath}
	if c.src.has("metrics.path") {
		if reason := badMetricsPath(m.Path); reason != "" {
			c.fail("metrics.path", "%s", reason)
		} else {
			p.path = m.Path
		}
	}
	if c.src.has("metrics.models") {
		p.cfg.Models = m.Models
		c.lib("metrics.models", metrics.Config{Models: m.Models}.Validate())
	} else {
		p.cfg.Models = labelable(f.ModelNames(), true)
	}
	switch t := m.Tenants.(type) {
	case nil:
	case bool:
		if t {
			p.cfg.Tenants = labelable(fileTenants(f), false)
		}
	case []any:
		for i, v := range t {
			s, ok := v.(string)
			if !ok {
				c.fail(fmt.Sprintf("metrics.tenants[%d]", i), "want a tenant name (a string)")
				continue
			}
			p.cfg.Tenants = append(p.cfg.Tenants, s)
		}
		c.lib("metrics.tenants", metrics.Config{Tenants: p.cfg.Tenants}.Validate())
	default:
		c.fail("metrics.tenants", "want true, false or a list of tenant names")
	}
	return p
}

// badMetricsPath says why p cannot be the metrics path, or "". The path is
// matched as sent (routes), so it must be clean, and it may not take a
// path the gateway serves already.
func badMetricsPath(p string) string {
	switch {
	case !strings.HasPrefix(p, "/") || path.Clean(p) != p || strings.ContainsAny(p, "?#%* \t"):
		return "want a clean absolute path (e.g. /metrics)"
	case p == "/" || p == healthzPath || p == readyzPath || p == "/v1" || strings.HasPrefix(p, "/v1/") ||
		p == cache.AdminPrefix || strings.HasPrefix(p, cache.AdminPrefix+"/"):
		return "is a path the gateway serves already"
	}
	return ""
}

// labelable keeps the names metrics.Config accepts as labels (the defaults
// come from other keys, whose own rules allow what a label may not be:
// "other", a "*" inside a name), and "*" alone, which would label every
// model with itself.
func labelable(names []string, patterns bool) []string {
	var out []string
	for _, n := range names {
		cfg := metrics.Config{Tenants: []string{n}}
		if patterns {
			cfg = metrics.Config{Models: []string{n}}
		}
		if n != "*" && cfg.Validate() == nil {
			out = append(out, n)
		}
	}
	return out
}

// newMetrics builds the metrics the plan describes, on reg (nil: a registry
// of their own, never the global one), or nil when they are off.
func (c *checker) newMetrics(p metricsPlan, reg prometheus.Registerer) (*metrics.Metrics, *registered) {
	if !p.on {
		return nil, nil
	}
	cfg := p.cfg
	var r *registered
	if reg != nil {
		r = &registered{Registerer: reg}
		cfg.Registerer = r
		if g, ok := reg.(prometheus.Gatherer); ok {
			cfg.Registerer = registeredGatherer{r, g} // so that Handler serves it
		}
	}
	m, err := metrics.New(cfg)
	if !c.lib("metrics", err) {
		r.unregister() // what was registered before the one refused
		return nil, nil
	}
	return m, r
}

// registered is Options.Registerer, remembering what it registered, so that
// Close leaves the embedder's registry as it found it (a gateway built
// again on it registers the same names).
type registered struct {
	prometheus.Registerer
	cs []prometheus.Collector
}

// registeredGatherer is a registered whose Registerer is a Gatherer too.
type registeredGatherer struct {
	*registered
	prometheus.Gatherer
}

func (r *registered) Register(c prometheus.Collector) error {
	if err := r.Registerer.Register(c); err != nil {
		return err
	}
	r.cs = append(r.cs, c)
	return nil
}

func (r *registered) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

func (r *registered) unregister() {
	if r == nil {
		return
	}
	for _, c := range r.cs {
		r.Registerer.Unregister(c)
	}
	r.cs = nil
}

// costRecorder is the Meter's Recorder: rec, behind the metrics' cost
// counter when the metrics are on.
func (c *checker) costRecorder(rec billing.Recorder) billing.Recorder {
	if c.obs == nil || c.obs.metrics == nil {
		return rec
	}
	return c.obs.metrics.CostRecorder(rec)
}

// metricsPage serves m at GET and HEAD, and answers other methods with a
// 405 in the OpenAI shape, as /healthz does.
func metricsPage(m *metrics.Metrics, p string) http.Handler {
	h := m.Handler()
	msg := "gateway: " + p + " takes GET or HEAD"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, gateway.ErrMethodNotAllowed.WithMessage(msg))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Metrics are the gateway's Prometheus metrics, for what an embedder adds
// to them (health-check transitions: HealthChanged); nil when the metrics
// section disables them. Build and Reload keep them fed; Handler serves
// them at metrics.path.
func (g *Gateway) Metrics() *metrics.Metrics { return g.obs.metricsOrNil() }

// MetricsPath is where Handler serves the metrics (metrics.path, default
// DefaultMetricsPath); empty when they are off.
func (g *Gateway) MetricsPath() string {
	if g.obs.metricsOrNil() == nil {
		return ""
	}
	return g.obs.metricsPath
}
