package router

import (
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/gatewaytest"
)

// okProvider is a Provider that is never called by pick tests.
type okProvider string

func (p okProvider) Name() string { return string(p) }
func (p okProvider) RoundTrip(*http.Request) (*http.Response, error) {
	panic("router: okProvider is not for dispatch")
}

// pickEpoch is where the fake clock of pick tests starts.
var pickEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// pickRouter builds a router over targets t0…tn-1 with the given weights,
// all serving every model in tier 0 unless tiers says otherwise. Its clock
// (and so its default breakers') is a fake one, r.clock.(*gatewaytest.Clock).
func pickRouter(tb testing.TB, s Strategy, weights []int, tiers []int) (*Router, *routeGroup) {
	tb.Helper()
	ts := make([]Target, len(weights))
	for i, w := range weights {
		ts[i] = Target{Name: fmt.Sprintf("t%d", i), Provider: okProvider(fmt.Sprintf("t%d", i)), Weight: w}
		if tiers != nil {
			ts[i].Tier = tiers[i]
		}
	}
	r, err := New("r", ts, Config{Strategy: s, Seed: 42, Clock: gatewaytest.NewClock(pickEpoch)})
	require.NoError(tb, err)
	g := r.snap.Load().group("m")
	require.NotNil(tb, g)
	return r, g
}

var strategies = []Strategy{WeightedRoundRobin, WeightedRandom, LeastInFlight, LatencyAware}

func TestPickSharesMatchWeights(t *testing.T) {
	for _, weights := range [][]int{{1, 2, 3, 4}, {95, 5}, {1, 1}, {10, 20, 30, 15, 25}} {
		for _, s := range strategies {
			t.Run(fmt.Sprintf("%s/%v", s, weights), func(t *testing.T) {
				r, g := pickRouter(t, s, weights, nil)
				// Smooth round-robin is exact: 10,000 picks are plenty. A
				// random draw's share has a standard deviation of up to
				// 0.5 pp at 10,000, so those take 40,000 for a 4σ band.
				n := 10_000
				if s != WeightedRoundRobin {
					n = 40_000
				}
				counts := make([]int, len(weights))
				p := pickState{now: time.Now().UnixNano()}
				for range n {
					i := r.pick(g, &p)
					if i < 0 {
						t.Fatal("no pick")
					}
					counts[g.members[i].idx]++
				}
				total := 0
				for _, w := range weights {
					total += w
				}
				for i, w := range weights {
					want := float64(w) / float64(total)
					got := float64(counts[i]) / float64(n)
					assert.InDelta(t, want, got, 0.01, "target %d: share %.4f, weight share %.4f", i, got, want)
				}
			})
		}
	}
}

// The nginx smooth weighted round-robin bound: in any run of n consecutive
// picks, a target with share w/W gets at most ceil(w/W·n)+1 of them.
func TestSmoothWRRNeverBursts(t *testing.T) {
	sets := [][]int{{5, 1, 1}, {1, 2, 3, 4}, {95, 5}, {7, 3}, {1, 1, 1}, {100, 1}, {13, 8, 5, 3, 2, 1, 1}}
	for _, weights := range sets {
		t.Run(fmt.Sprint(weights), func(t *testing.T) {
			r, g := pickRouter(t, WeightedRoundRobin, weights, nil)
			total := 0
			for _, w := range weights {
				total += w
			}
			seq := make([]int, 3*total)
			p := pickState{now: time.Now().UnixNano()}
			for k := range seq {
				seq[k] = g.members[r.pick(g, &p)].idx
			}
			for n := 1; n <= 2*total; n++ {
				for start := 0; start+n <= len(seq); start++ {
					counts := make([]int, len(weights))
					for _, i := range seq[start : start+n] {
						counts[i]++
					}
					for i, w := range weights {
						limit := int(math.Ceil(float64(w)/float64(total)*float64(n))) + 1
						if counts[i] > limit {
							t.Fatalf("target %d (weight %d) got %d of %d consecutive picks from %d, limit %d: %v",
								i, w, counts[i], n, start, limit, seq)
						}
					}
				}
			}
		})
	}
}

func TestWRRScheduleIsNginxSequence(t *testing.T) {
	s := newWRRSchedule([]uint64{5, 1, 1})
	assert.Equal(t, []uint16{0, 0, 1, 0, 2, 0, 0}, s.seq) // a a b a c a a
	assert.Len(t, newWRRSchedule([]uint64{10, 20}).seq, 3, "weights are divided by their gcd")
	big := newWRRSchedule([]uint64{MaxWeight, 1, MaxWeight / 2})
	assert.LessOrEqual(t, len(big.seq), maxWRRPeriod+3, "the period is bounded")
	assert.Contains(t, big.seq, uint16(1), "a tiny weight still gets a turn")
}

func TestPickSkipsWhatCannotServe(t *testing.T) {
	for _, s := range strategies {
		t.Run(s.String(), func(t *testing.T) {
			r, g := pickRouter(t, s, []int{1, 1, 1, 1}, []int{0, 0, 1, 1})
			now := time.Now().UnixNano()
			picked := func(p *pickState) map[int]int {
				seen := map[int]int{}
				for range 400 {
					i := r.pick(g, p)
					if i < 0 {
						seen[-1]++
						continue
					}
					seen[g.members[i].idx]++
				}
				return seen
			}
			// Tier 0 serves while it can.
			seen := picked(&pickState{now: now})
			assert.Equal(t, []int{0, 1}, keys(seen))

			// A call's own exclusions and a cooling target push to the rest of the tier.
			p := pickState{now: now}
			p.hard.add(0)
			assert.Equal(t, []int{1}, keys(picked(&p)))
			// A target cools down in its breaker (a 429), which picks ask.
			g.members[1].t.cb.CoolDown(time.Minute)
			require.False(t, g.members[1].t.cb.Ready())
			assert.Equal(t, []int{2, 3}, keys(picked(&p)), "tier 1 takes over when tier 0 is out")
			p.hard.add(2)
			p.hard.add(3)
			assert.Equal(t, []int{-1}, keys(picked(&p)))

			// Saturated targets serve only when nothing else can.
			r.clock.(*gatewaytest.Clock).Advance(time.Minute) // the cooldown ends
			require.True(t, g.members[1].t.cb.Ready())
			g.members[1].st.lowReqUntil.Store(now + 1)
			q := pickState{now: now}
			assert.Equal(t, []int{0}, keys(picked(&q)), "a saturated target is passed over")
			q.hard.add(0)
			assert.Equal(t, []int{2, 3}, keys(picked(&q)), "…for the next tier")
			q.hard.add(2)
			q.hard.add(3)
			assert.Equal(t, []int{1}, keys(picked(&q)), "…but used when nothing else is left")

			// Token hints saturate only calls larger than what is left.
			g.members[1].st.lowReqUntil.Store(0)
			g.members[1].st.tokLeft.Store(100)
			g.members[1].st.tokUntil.Store(now + 1)
			small := pickState{now: now, est: 50}
			assert.Equal(t, []int{0, 1}, keys(picked(&small)))
			large := pickState{now: now, est: 500}
			assert.Equal(t, []int{0}, keys(picked(&large)))
			g.members[1].st.tokUntil.Store(0)
		})
	}
}

func TestTargetSetBeyond64(t *testing.T) {
	var s targetSet
	for _, i := range []int{0, 63, 64, 200} {
		assert.False(t, s.has(i))
		s.add(i)
		assert.True(t, s.has(i))
	}
	assert.False(t, s.has(65))
	assert.False(t, s.has(1000))
}

func TestLeastInFlightPrefersIdle(t *testing.T) {
	r, g := pickRouter(t, LeastInFlight, []int{1, 1}, nil)
	g.members[0].st.inflight.Store(10)
	p := pickState{now: time.Now().UnixNano()}
	counts := [2]int{}
	for range 1000 {
		counts[g.members[r.pick(g, &p)].idx]++
	}
	// Only a draw of target 0 twice (a quarter of picks) sends it a call.
	assert.InDelta(t, 250, counts[0], 60)
}

func TestLatencyAwarePrefersFast(t *testing.T) {
	r, g := pickRouter(t, LatencyAware, []int{1, 1}, nil)
	for range 20 {
		g.members[0].st.observe(500*time.Millisecond, false)
		g.members[1].st.observe(50*time.Millisecond, false)
	}
	p := pickState{now: time.Now().UnixNano()}
	counts := [2]int{}
	for range 1000 {
		counts[g.members[r.pick(g, &p)].idx]++
	}
	assert.InDelta(t, 250, counts[0], 60, "the slow target serves only when drawn twice")

	// Errors weigh too: a fast target that fails loses to a slower healthy one.
	for range 20 {
		g.members[1].st.observe(0, true)
	}
	counts = [2]int{}
	for range 1000 {
		counts[g.members[r.pick(g, &p)].idx]++
	}
	assert.Greater(t, counts[0], counts[1])
}

func keys(m map[int]int) []int {
	var out []int
	for k := -1; k < 64; k++ {
		if m[k] > 0 {
			out = append(out, k)
		}
	}
	return out
}

// BenchmarkPick measures choosing a target for one call among healthy
// targets, the router's hot path.
func BenchmarkPick(b *testing.B) {
	for _, s := range strategies {
		for _, n := range []int{2, 16} {
			b.Run(fmt.Sprintf("%s/%d", s, n), func(b *testing.B) {
				weights := make([]int, n)
				for i := range weights {
					weights[i] = 1 + i%4
				}
				r, g := pickRouter(b, s, weights, nil)
				r.seed = 0 // the runtime's generator, as in production
				p := pickState{now: time.Now().UnixNano(), est: 100}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if r.pick(g, &p) < 0 {
						b.Fatal("no pick")
					}
				}
			})
		}
	}
}

// BenchmarkPickWithLookup adds finding the model's targets to the pick.
func BenchmarkPickWithLookup(b *testing.B) {
	for _, n := range []int{2, 16} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			weights := make([]int, n)
			for i := range weights {
				weights[i] = 1
			}
			r, _ := pickRouter(b, WeightedRoundRobin, weights, nil)
			r.seed = 0
			s := r.snap.Load()
			p := pickState{now: time.Now().UnixNano()}
			model := "gpt-4o-mini"
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if r.pick(s.group(model), &p) < 0 {
					b.Fatal("no pick")
				}
			}
		})
	}
}
