package metrics_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/metrics"
)

// dashboardExprs returns every PromQL expression of the dashboard's panels
// (rows' panels included).
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "dashboards", "llmgate.json"))
	require.NoError(t, err)
	type panel struct {
		Title   string                  `json:"title"`
		Targets []struct{ Expr string } `json:"targets"`
		Panels  []json.RawMessage       `json:"panels"`
	}
	var d struct {
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct{ Name, Type string } `json:"list"`
		} `json:"templating"`
	}
	require.NoError(t, json.Unmarshal(raw, &d))
	require.Contains(t, d.Templating.List, struct{ Name, Type string }{"datasource", "datasource"}, "the datasource is a template variable")
	var exprs []string
	var walk func([]json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, r := range ps {
			var p panel
			require.NoError(t, json.Unmarshal(r, &p))
			for _, tg := range p.Targets {
				exprs = append(exprs, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return exprs
}

// The aggregation operators, which may be followed by a grouping before
// their "(": never metric names.
var aggregations = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "count": true, "group": true, "stddev": true, "stdvar": true,
	"topk": true, "bottomk": true, "quantile": true, "count_values": true, "limitk": true, "limit_ratio": true,
}

// The words of PromQL that are not metric names.
var promqlWords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"and": true, "or": true, "unless": true, "bool": true, "offset": true,
}

// metricNames returns the metric names an expression selects: identifiers
// outside label matchers ({…}), ranges ([…]) and strings, that are not
// called (a function or an aggregation: followed by "("), not a grouping's
// label list, not a keyword and not a number.
func metricNames(expr string) []string {
	var names []string
	skipParenAfter := false // the label list of by, without, on, ignoring, group_*
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(expr) && expr[j] != c {
				if expr[j] == '\\' {
					j++
				}
				j++
			}
			i = j + 1
		case c == '{' || c == '[':
			end := byte('}')
			if c == '[' {
				end = ']'
			}
			j := i + 1
			for j < len(expr) && expr[j] != end {
				if expr[j] == '"' {
					j++
					for j < len(expr) && expr[j] != '"' {
						if expr[j] == '\\' {
							j++
						}
						j++
					}
				}
				j++
			}
			i = j + 1
		case c == '(' && skipParenAfter:
			i = strings.IndexByte(expr[i:], ')') + i + 1
			skipParenAfter = false
		case isIdentStart(c):
			j := i
			for j < len(expr) && isIdent(expr[j]) {
				j++
			}
			word := expr[i:j]
			k := j
			for k < len(expr) && expr[k] == ' ' {
				k++
			}
			called := k < len(expr) && expr[k] == '('
			switch {
			case promqlWords[word]:
				skipParenAfter = word != "and" && word != "or" && word != "unless" && word != "bool" && word != "offset"
			case called || aggregations[word]:
			default:
				names = append(names, word)
			}
			i = j
		case c == '$':
			j := i + 1
			for j < len(expr) && (isIdent(expr[j]) || expr[j] == '{' || expr[j] == '}') {
				j++
			}
			i = j
		case c >= '0' && c <= '9' || c == '.':
			j := i
			for j < len(expr) && (isIdent(expr[j]) || expr[j] == '.') { // 1e3, 0.95, a duration such as 1h30m
				j++
			}
			i = j
		default:
			i++
		}
	}
	return names
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
func isIdent(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

func TestMetricNamesTokenizer(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (le, target) (rate(a_bucket{x="y",z!~"a{b}"}[$__rate_interval]))`: {"a_bucket"},
		`histogram_quantile(0.95, sum by (le) (rate(h_bucket[5m]))) / on (x) b`:   {"h_bucket", "b"},
		`max by (target) (c) and d offset 1h > 1e3`:                               {"c", "d"},
		`e{state!="closed"} == bool 1`:                                            {"e"},
	} {
		assert.Equal(t, want, metricNames(expr), expr)
	}
}

// Every metric the dashboard queries exists in the registry after the
// known sequence: as a family (a histogram's _bucket, _sum and _count its
// own), or, for the two counters the sequence has no event for (retries,
// hedges), as a metric the Metrics describes.
func TestDashboardQueriesOnlyMetricsThatExist(t *testing.T) {
	f := newFixture(t, metrics.Config{Models: []string{"gpt-4.1"}})
	runSequence(t, f)
	f.m.Reloaded(nil)
	f.m.HealthChanged("openai", true)

	mfs, err := f.reg.Gather()
	require.NoError(t, err)
	gathered := map[string]bool{}
	for _, mf := range mfs {
		gathered[mf.GetName()] = true
		if mf.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				gathered[mf.GetName()+s] = true
			}
		}
	}
	described := metrics.DescribedNames(f.m)
	notYet := []string{"llmgate_retries_total", "llmgate_hedges_total"}

	exprs := dashboardExprs(t)
	require.NotEmpty(t, exprs)
	queried := 0
	for _, e := range exprs {
		names := metricNames(e)
		require.NotEmpty(t, names, "no metric in %q", e)
		for _, n := range names {
			queried++
			if gathered[n] {
				continue
			}
			assert.True(t, slices.Contains(notYet, n) && slices.Contains(described, n), "%s (in %q) is not in the registry", n, e)
		}
	}
	assert.Greater(t, queried, 25)
}
