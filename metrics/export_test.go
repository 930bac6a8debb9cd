package metrics

import (
	"regexp"

	"github.com/prometheus/client_golang/prometheus"
)

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// DescribedNames returns the name of every metric m can expose, series or
// not yet (a counter vector with no child is not gathered).
func DescribedNames(m *Metrics) []string {
	ch := make(chan *prometheus.Desc, 256)
	go func() {
		for _, c := range m.collectors() {
			c.Describe(ch) // m.watched's sends watchedDescs
		}
		close(ch)
	}()
	var out []string
	for d := range ch {
		if s := fqName.FindStringSubmatch(d.String()); s != nil {
			out = append(out, s[1])
		}
	}
	return out
}
