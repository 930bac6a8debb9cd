package metrics

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// otherLabel is the value every label folds to past its bound: a model not
// configured, a tenant not listed, a target past MaxTargets.
const otherLabel = "other"

// Index 0 of every label table is "" (no value) and index 1 is "other".
const (
	idxEmpty = 0
	idxOther = 1
)

// modelNames folds a model string to a label: a configured exact name is
// itself, a configured pattern ("gpt-4*") labels the models it matches
// with the pattern (longest pattern first), "" stays "", anything else is
// "other". It is immutable; SetModels swaps it whole, with the series
// cache resolved under it.
type modelNames struct {
	exact    map[string]int
	prefixes []prefixLabel // longest first
	labels   []string      // by index
	series   seriesCache   // resolved under these indices
}

type prefixLabel struct {
	prefix string
	idx    int
}

func newModelNames(models []string) *modelNames {
	n := &modelNames{exact: make(map[string]int, len(models)), labels: []string{"", otherLabel}}
	for _, m := range models {
		idx := len(n.labels)
		n.labels = append(n.labels, m)
		if p, ok := strings.CutSuffix(m, "*"); ok {
			n.prefixes = append(n.prefixes, prefixLabel{p, idx})
		} else {
			n.exact[m] = idx
		}
	}
	// Longest first, so "gpt-4o*" wins over "gpt-4*".
	for i := 1; i < len(n.prefixes); i++ {
		for j := i; j > 0 && len(n.prefixes[j].prefix) > len(n.prefixes[j-1].prefix); j-- {
			n.prefixes[j], n.prefixes[j-1] = n.prefixes[j-1], n.prefixes[j]
		}
	}
	return n
}

// index returns model's label index; it allocates nothing.
func (n *modelNames) index(model string) int {
	if model == "" {
		return idxEmpty
	}
	if i, ok := n.exact[model]; ok {
		return i
	}
	for _, p := range n.prefixes {
		if strings.HasPrefix(model, p.prefix) {
			return p.idx
		}
	}
	return idxOther
}

// fixedIndex is a listed value's index in m, idxEmpty for "" and
// idxOther for any other: the tenant label.
func fixedIndex(m map[string]int, v string) int {
	if v == "" {
		return idxEmpty
	}
	if i, ok := m[v]; ok {
		return i
	}
	return idxOther
}

// internTable gives the first max distinct values it is asked for an index
// of their own and every later one idxOther, so a label that takes values
// learned at run time (target names, error codes) stays bounded. Lookups
// of a known value take no lock and allocate nothing; it is safe for
// concurrent use.
type internTable struct {
	max    int
	mu     sync.Mutex // serialises additions
	byName atomic.Pointer[map[string]int]
	labels atomic.Pointer[[]string]
}

func newInternTable(max int) *internTable {
	t := &internTable{max: max}
	m := map[string]int{"": idxEmpty, otherLabel: idxOther}
	l := []string{"", otherLabel}
	t.byName.Store(&m)
	t.labels.Store(&l)
	return t
}

func (t *internTable) index(v string) int {
	if i, ok := (*t.byName.Load())[v]; ok {
		return i
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	cur := *t.byName.Load()
	if i, ok := cur[v]; ok {
		return i
	}
	if len(cur)-2 >= t.max {
		return idxOther
	}
	next := make(map[string]int, len(cur)+1)
	for k, i := range cur {
		next[k] = i
	}
	v = strings.Clone(v) // keep no caller's memory
	labels := append(slices.Clone(*t.labels.Load()), v)
	next[v] = len(labels) - 1
	t.labels.Store(&labels)
	t.byName.Store(&next)
	return len(labels) - 1
}

func (t *internTable) label(i int) string { return (*t.labels.Load())[i] }

// statusText holds the decimal text of every HTTP status, so labelling a
// status allocates nothing.
var statusText = func() (t [600]string) {
	for i := 100; i < len(t); i++ {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

// statusLabel is the label of an HTTP status: its number, "0" for none
// (a failure without a response), "other" out of range.
func statusLabel(s int) string {
	switch {
	case s == 0:
		return "0"
	case s >= 100 && s < len(statusText):
		return statusText[s]
	}
	return otherLabel
}
