package router

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
)

// routerSnapshot is one immutable configuration of a Router: its targets and,
// per model, who serves it in which order. Update builds a new one and swaps
// it in atomically; a call keeps the snapshot it started with, so its
// fallback chain is not disturbed by an Update.
type routerSnapshot struct {
	targets []*routeTarget
	index   map[string]int         // target name -> index in targets
	exact   map[string]*routeGroup // models named exactly by some target

	// Groups of models matched only by patterns, added as calls ask for
	// them, copy-on-write so reads take no lock, and bounded by
	// maxDynamicGroups (beyond it a group is built per call, under dynMu).
	dyn   atomic.Pointer[map[string]*routeGroup]
	dynMu sync.Mutex
	tiers map[string]*tierShared // tier contents -> its shared WRR schedule; guarded by dynMu after build

	models     []string // sorted union of the models targets list
	modelsJSON []byte
}

// maxDynamicGroups bounds the models a snapshot remembers beyond those named
// exactly by a target (a caller may send any model name).
const maxDynamicGroups = 1024

// routeTarget is a Target as a snapshot holds it.
type routeTarget struct {
	name   string
	weight uint64
	tier   int
	models *modelSet
	// cb is the breaker rt goes through. Calls ask it, not st's, whether to
	// try the target: st's may be replaced by an Update while they run.
	cb *breaker.CircuitBreaker
	// healthy is the target's health gate as of this snapshot; nil: none.
	healthy func() bool
	rt      http.RoundTripper // cb(first-token timeout(middlewares(boundary(provider))))
	st      *targetState
}

// passes reports whether the target passes its health check (true without
// one). Without a gate it is one nil check, so targets that are not probed
// pay nothing at a pick.
func (t *routeTarget) passes() bool { return t.healthy == nil || t.healthy() }

// anyPasses reports whether some member of the group passes its health
// check. When none does, the router ignores the checks for the group (see
// Router).
func (g *routeGroup) anyPasses() bool {
	for i := range g.members {
		if g.members[i].t.passes() {
			return true
		}
	}
	return false
}

// routeGroup is who may serve one model: its members sorted by tier, then
// by target order.
type routeGroup struct {
	members []routeMember
	tiers   []routeTier
}

// routeMember is one target serving the group's model.
type routeMember struct {
	t        *routeTarget
	st       *targetState
	idx      int // the target's index in the snapshot
	weight   uint64
	upstream string // the model sent to this target
}

// routeTier is the members of one tier: members[lo:hi] of the group.
type routeTier struct {
	lo, hi int
	*tierShared
}

// tierShared is what tiers with the same members in the same snapshot share:
// their weighted-draw table and their round-robin sequence, so all models
// served by the same targets advance one sequence.
type tierShared struct {
	alias []aliasColumn // for weighted draws
	wrr   *wrrSchedule
}

func newRouterSnapshot(targets []*routeTarget) *routerSnapshot {
	s := &routerSnapshot{
		targets: targets,
		index:   make(map[string]int, len(targets)),
		exact:   make(map[string]*routeGroup),
		tiers:   make(map[string]*tierShared),
	}
	for i, t := range targets {
		s.index[t.name] = i
	}
	var listed []string
	for _, t := range targets {
		listed = t.models.listed(listed)
	}
	slices.Sort(listed)
	s.models = slices.Compact(listed)
	for _, m := range s.models {
		s.exact[m] = s.buildGroup(m)
	}
	s.modelsJSON = modelListJSON(s.models)
	empty := map[string]*routeGroup{}
	s.dyn.Store(&empty)
	return s
}

// group returns who serves model, or nil when no target does. It allocates
// nothing and takes no lock for a model seen before or served by nobody.
func (s *routerSnapshot) group(model string) *routeGroup {
	if g, ok := s.exact[model]; ok {
		return g
	}
	if g, ok := (*s.dyn.Load())[model]; ok {
		return g
	}
	if !s.served(model) {
		return nil // not remembered: a caller may send any name
	}
	s.dynMu.Lock()
	defer s.dynMu.Unlock()
	cur := *s.dyn.Load()
	if g, ok := cur[model]; ok {
		return g
	}
	g := s.buildGroup(model)
	if len(cur) < maxDynamicGroups {
		next := make(map[string]*routeGroup, len(cur)+1)
		for k, v := range cur {
			next[k] = v
		}
		next[strings.Clone(model)] = g // the model may alias a request body
		s.dyn.Store(&next)
	}
	return g
}

// served reports whether any target serves model.
func (s *routerSnapshot) served(model string) bool {
	for _, t := range s.targets {
		if _, ok := t.models.resolve(model); ok {
			return true
		}
	}
	return false
}

// buildGroup finds the targets serving model. Called at build time or with
// dynMu held.
func (s *routerSnapshot) buildGroup(model string) *routeGroup {
	var ms []routeMember
	for i, t := range s.targets {
		if up, ok := t.models.resolve(model); ok {
			ms = append(ms, routeMember{t: t, st: t.st, idx: i, weight: t.weight, upstream: up})
		}
	}
	if len(ms) == 0 {
		return nil
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].t.tier < ms[j].t.tier })
	g := &routeGroup{members: ms}
	for lo := 0; lo < len(ms); {
		hi := lo + 1
		for hi < len(ms) && ms[hi].t.tier == ms[lo].t.tier {
			hi++
		}
		g.tiers = append(g.tiers, routeTier{lo: lo, hi: hi, tierShared: s.sharedTier(ms[lo:hi])})
		lo = hi
	}
	return g
}

// sharedTier returns the draw table and schedule for a tier's members,
// shared with every other tier of the snapshot holding the same targets.
func (s *routerSnapshot) sharedTier(ms []routeMember) *tierShared {
	var key strings.Builder
	for _, m := range ms {
		key.WriteString(strconv.Itoa(m.idx))
		key.WriteByte(',')
	}
	if t, ok := s.tiers[key.String()]; ok {
		return t
	}
	weights := make([]uint64, len(ms))
	for i, m := range ms {
		weights[i] = m.weight
	}
	t := &tierShared{alias: newAliasTable(weights), wrr: newWRRSchedule(weights)}
	s.tiers[key.String()] = t
	return t
}

// modelListJSON is the OpenAI model list for models.
func modelListJSON(models []string) []byte {
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	list := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list", Data: make([]model, len(models))}
	for i, m := range models {
		list.Data[i] = model{ID: m, Object: "model", OwnedBy: "llmgate"}
	}
	b, _ := json.Marshal(list)
	return b
}

// modelsResponse answers GET /v1/models with the snapshot's model list, or,
// for a caller whose key may use only some models (gateway.Caller.Allows),
// with those it can call: the models some target is sent, after its model
// map, as one the key may use (the boundary checks the model sent).
func (s *routerSnapshot) modelsResponse(req *http.Request) *http.Response {
	h := make(http.Header, 1)
	h.Set("Content-Type", "application/json")
	body := s.modelsJSON
	if c := gateway.CallFrom(req.Context()); c != nil && len(c.Caller.Models) > 0 {
		allowed := make([]string, 0, len(s.models))
		for _, m := range s.models {
			for _, mem := range s.exact[m].members {
				if c.Caller.Allows(mem.upstream) {
					allowed = append(allowed, m)
					break
				}
			}
		}
		body = modelListJSON(allowed)
	}
	return &http.Response{
		Status:        "200 OK",
		StatusCode:    http.StatusOK,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

var _ gateway.ModelLister = (*Router)(nil)
