package router

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/gatewaytest"
)

// gatedPickRouter is pickRouter with a health gate on every target, each
// reading its own atomic, as health.Checker's gates do.
func gatedPickRouter(tb testing.TB, s Strategy, weights []int) (*Router, *routeGroup, []*atomic.Bool) {
	tb.Helper()
	ts := make([]Target, len(weights))
	oks := make([]*atomic.Bool, len(weights))
	for i, w := range weights {
		ok := &atomic.Bool{}
		ok.Store(true)
		oks[i] = ok
		ts[i] = Target{Name: fmt.Sprintf("t%d", i), Provider: okProvider(fmt.Sprintf("t%d", i)), Weight: w, Healthy: ok.Load}
	}
	r, err := New("r", ts, Config{Strategy: s, Seed: 42, Clock: gatewaytest.NewClock(pickEpoch)})
	require.NoError(tb, err)
	g := r.snap.Load().group("m")
	require.NotNil(tb, g)
	return r, g, oks
}

// Every strategy passes over a target failing its check while another
// passes, and picks among them all when none passes.
func TestPickSkipsUnhealthyUnlessAllAre(t *testing.T) {
	for _, s := range strategies {
		t.Run(s.String(), func(t *testing.T) {
			r, g, oks := gatedPickRouter(t, s, []int{1, 1, 1})
			oks[0].Store(false)
			oks[2].Store(false)
			for range 200 {
				p := pickState{now: pickEpoch.UnixNano()}
				require.Equal(t, 1, r.pick(g, &p), "the one passing its check")
			}
			oks[1].Store(false)
			seen := map[int]int{}
			for range 300 {
				p := pickState{now: pickEpoch.UnixNano()}
				seen[r.pick(g, &p)]++
			}
			assert.Equal(t, []int{0, 1, 2}, keys(seen), "none passes: every target, as without checks")

			p := pickState{now: pickEpoch.UnixNano()}
			p.hard.add(0)
			p.hard.add(1)
			p.hard.add(2)
			assert.Equal(t, -1, r.pick(g, &p), "panic mode still keeps a call's exclusions")
		})
	}
}

// BenchmarkPickHealthGate compares a pick over targets without health
// gates and over the same targets each gated (all passing): the gate's cost
// on the hot path.
func BenchmarkPickHealthGate(b *testing.B) {
	for _, s := range []Strategy{WeightedRoundRobin, LeastInFlight} {
		for _, n := range []int{2, 16} {
			weights := make([]int, n)
			for i := range weights {
				weights[i] = 1 + i%4
			}
			for _, gated := range []bool{false, true} {
				b.Run(fmt.Sprintf("%s/%d/gated=%v", s, n, gated), func(b *testing.B) {
					var r *Router
					var g *routeGroup
					if gated {
						r, g, _ = gatedPickRouter(b, s, weights)
					} else {
						r, g = pickRouter(b, s, weights, nil)
					}
					r.seed = 0
					p := pickState{now: time.Now().UnixNano(), est: 100}
					b.ReportAllocs()
					for b.Loop() {
						if r.pick(g, &p) < 0 {
							b.Fatal("no pick")
						}
					}
				})
			}
		}
	}
}

// When no target passes its check, the picks follow the weights, as
// without checks, whatever the period of the round-robin. Before, a pick
// took one round-robin turn in the first pass and another in the last, so
// an even period gave only every other turn: weights 1,1 sent every call
// to one target.
func TestPanicModeKeepsTheWeights(t *testing.T) {
	for _, weights := range [][]int{{1, 1}, {1, 1, 1, 1}, {2, 1, 1}} {
		for _, s := range strategies {
			t.Run(fmt.Sprintf("%s/%v", s, weights), func(t *testing.T) {
				r, g, oks := gatedPickRouter(t, s, weights)
				for i := range oks {
					oks[i].Store(false)
				}
				const n = 4000
				seen := make([]int, len(weights))
				for range n {
					p := pickState{now: pickEpoch.UnixNano()}
					seen[r.pick(g, &p)]++
				}
				sum := 0
				for _, w := range weights {
					sum += w
				}
				for i, w := range weights {
					want := n * w / sum
					assert.InDelta(t, want, seen[i], float64(want)/5, "target %d of weights %v: %v", i, weights, seen)
				}
			})
		}
	}
}
