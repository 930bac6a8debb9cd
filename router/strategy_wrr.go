package router

import "sync/atomic"

// maxWRRPeriod bounds the length of a smooth weighted round-robin sequence
// (and so its memory: two bytes a pick). Weights are first divided by their
// greatest common divisor; if they still sum to more, they are scaled down to
// fit, which moves no target's share by more than about 1/maxWRRPeriod
// each.
const maxWRRPeriod = 4096

// wrrSchedule is one period of nginx's smooth weighted round-robin over a
// tier's members, computed once and replayed by an atomic cursor: the
// sequence nginx would produce, with no lock per pick. It is immutable but
// for the cursor, and safe for concurrent use.
type wrrSchedule struct {
	seq    []uint16 // member offsets in the tier
	cursor atomic.Uint64
}

// next returns the offset of the member whose turn it is.
func (s *wrrSchedule) next() int {
	if len(s.seq) == 1 {
		return int(s.seq[0])
	}
	return int(s.seq[(s.cursor.Add(1)-1)%uint64(len(s.seq))])
}

// newWRRSchedule computes the smooth weighted round-robin sequence for
// weights (each positive, at most 65536 of them): at every step each member's
// current weight grows by its weight, the member with the largest current
// weight (the first on a tie) is chosen and its current weight drops by the
// total. Over a period each member is chosen exactly weight/gcd times, and
// in any run of n consecutive picks a member with share s gets at most
// ceil(s·n)+1 of them.
func newWRRSchedule(weights []uint64) *wrrSchedule {
	w := reduceWeights(weights, maxWRRPeriod)
	var total int64
	for _, x := range w {
		total += int64(x)
	}
	cur := make([]int64, len(w))
	seq := make([]uint16, total)
	for k := range seq {
		best := 0
		for i, x := range w {
			cur[i] += int64(x)
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		seq[k] = uint16(best)
	}
	return &wrrSchedule{seq: seq}
}

// reduceWeights divides weights by their greatest common divisor and, when
// they still sum to more than period, scales them to sum to about period
// (each at least 1).
func reduceWeights(weights []uint64, period int) []uint64 {
	var g, sum uint64
	for _, x := range weights {
		g = gcd64(g, x)
	}
	out := make([]uint64, len(weights))
	for i, x := range weights {
		out[i] = x / g
		sum += out[i]
	}
	limit := uint64(max(period, len(weights)))
	if sum <= limit {
		return out
	}
	for i, x := range out {
		out[i] = max(1, (x*limit+sum/2)/sum)
	}
	return out
}

// gcd64 returns the greatest common divisor of a and b (b when a is 0).
func gcd64(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// aliasColumn is one column of a Walker alias table: a draw landing on it
// takes self with probability keep/2^32, else other.
type aliasColumn struct {
	keep        uint64 // threshold on 32 random bits; 1<<32 means always self
	self, other uint32
}

// newAliasTable builds the alias table for drawing members in proportion to
// weights (Vose's method), in exact integer arithmetic: each column holds
// total units, shared between at most two members.
func newAliasTable(weights []uint64) []aliasColumn {
	n := uint64(len(weights))
	var total uint64
	for _, w := range weights {
		total += w
	}
	// Member i owns weights[i]·n units; every column holds total of them.
	units := make([]uint64, n)
	var small, large []uint32
	for i, w := range weights {
		units[i] = w * n
		if units[i] < total {
			small = append(small, uint32(i))
		} else {
			large = append(large, uint32(i))
		}
	}
	cols := make([]aliasColumn, n)
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		cols[s] = aliasColumn{keep: units[s] << 32 / total, self: s, other: l}
		units[l] -= total - units[s]
		if units[l] < total {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	for _, i := range append(small, large...) { // full columns (small ones only by rounding)
		cols[i] = aliasColumn{keep: 1 << 32, self: i, other: i}
	}
	return cols
}
