package limiter

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// Under saturation the lowest group is refused first: with 20% of a limit
// of 10 guaranteed to core calls and 30% to real-time ones, batch calls stop
// when 5 are left, real-time ones when 2 are, and core calls get the last
// two. Each group borrows what the others leave: alone, batch takes 5 and
// core all 10.
func TestPriorityGroupsAreShedLowestFirst(t *testing.T) {
	rule := Rule{Name: "rpm", Unit: Requests, Limit: 10, Per: Minute, Shares: map[int]float64{1: 0.2, 2: 0.3}}
	callers := map[int]gateway.Caller{1: {Priority: 1}, 2: {Priority: 2}, 3: {}}

	// All three groups ask, round after round, until the bucket is spent.
	l := newTestLimiter(t, gatewaytest.NewClock(t0), rule)
	c := client(l, sim(gatewaytest.SimConfig{}))
	admitted := map[int]int{}
	var refusedOrder []int
	refused := map[int]bool{}
	for range 10 {
		for _, g := range []int{3, 2, 1} {
			if do(t, c, callers[g], callBody("m", false, 0)).status == 200 {
				admitted[g]++
			} else if !refused[g] {
				refused[g] = true
				refusedOrder = append(refusedOrder, g)
			}
		}
	}
	assert.Equal(t, []int{3, 2, 1}, refusedOrder, "the lowest group is refused first")
	assert.Equal(t, 10, admitted[1]+admitted[2]+admitted[3], "the whole limit is used")
	assert.GreaterOrEqual(t, admitted[1], 2, "core gets at least its share")
	assert.LessOrEqual(t, admitted[3], 5, "batch never takes the 50% guaranteed to the others")

	// Alone, a group borrows everything the others leave.
	for g, want := range map[int]int{1: 10, 2: 8, 3: 5} {
		l := newTestLimiter(t, gatewaytest.NewClock(t0), rule)
		c := client(l, sim(gatewaytest.SimConfig{}))
		n := 0
		for range 12 {
			if do(t, c, callers[g], callBody("m", false, 0)).status == 200 {
				n++
			}
		}
		assert.Equal(t, want, n, "group %d alone", g)
	}
}
