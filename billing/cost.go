package billing

import (
	"math"
	"math/bits"

	"github.com/llmgate/gateway"
)

// Cost returns what u costs at p, in nano-dollars, rounded to the nearest.
//
// Usage follows OpenAI's semantics: PromptTokens counts every input token,
// the cached reads and cache writes among them. So each prompt token is
// billed once, at the rate of its kind: fresh input at Input, cached reads
// at CacheRead, cache writes at CacheWrite (their one-hour share at
// CacheWrite1h). Reasoning tokens are part of CompletionTokens and billed
// with them, at Output, once.
//
// A usage whose cached and written tokens add up to more than its prompt
// tokens cannot be OpenAI's: it is read as Anthropic's, where input tokens
// count only the fresh ones, and the fresh tokens are billed in full rather
// than dropped.
//
// The sum is exact (128-bit) and saturates at math.MaxInt64.
func (p Price) Cost(u gateway.Usage) int64 {
	in, out, read, write, write1h := p.rates()
	prompt := nonNeg(u.PromptTokens)
	cached := nonNeg(u.CachedTokens)
	writes := nonNeg(u.CacheWriteTokens)
	w1h := min(nonNeg(u.CacheWrite1hTokens), writes)
	fresh := prompt - cached - writes
	if fresh < 0 { // prompt counts only the fresh tokens (see above)
		fresh = prompt
	}
	var acc acc128
	acc.add(fresh, in)
	acc.add(cached, read)
	acc.add(writes-w1h, write)
	acc.add(w1h, write1h)
	acc.add(nonNeg(u.CompletionTokens), out)
	return acc.perMillion()
}

// acc128 sums token × price products exactly.
type acc128 struct{ hi, lo uint64 }

func (a *acc128) add(tokens int, price int64) {
	if tokens <= 0 || price <= 0 {
		return
	}
	hi, lo := bits.Mul64(uint64(tokens), uint64(price))
	var carry uint64
	a.lo, carry = bits.Add64(a.lo, lo, 0)
	a.hi, _ = bits.Add64(a.hi, hi, carry)
}

// perMillion divides by one million, rounding half up, saturating.
func (a *acc128) perMillion() int64 {
	const m = 1_000_000
	if a.hi >= m { // the quotient would not fit 64 bits
		return math.MaxInt64
	}
	q, r := bits.Div64(a.hi, a.lo, m)
	if r >= m/2 {
		q++
	}
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(q)
}

func nonNeg(n int) int { return max(n, 0) }

// maxCost is the most a call can cost at p: every prompt token fresh, and
// outTokens of output. It rounds up, so a hold is never short by rounding.
func (p Price) maxCost(promptTokens, outTokens int) int64 {
	var acc acc128
	acc.add(nonNeg(promptTokens), max(p.Input, p.CacheWrite, p.CacheWrite1h))
	acc.add(nonNeg(outTokens), p.Output)
	// Round up: add what a half-up rounding would not.
	acc.add(1, 1_000_000/2-1)
	return acc.perMillion()
}
