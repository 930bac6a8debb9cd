package billing_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/billing"
)

// An Anthropic-like price: input $3, output $15, cache read $0.30, write
// $3.75 (5 min) and $6 (1 h) per million tokens.
var sonnet = billing.Price{Input: billing.PerM(3), Output: billing.PerM(15), CacheRead: billing.PerM(0.30),
	CacheWrite: billing.PerM(3.75), CacheWrite1h: billing.PerM(6)}

// Trap: cache writes charged twice (once as input, once as writes). Prompt
// tokens include the writes; each token is billed once.
func TestCostCacheWritesChargedOnce(t *testing.T) {
	u := gateway.Usage{PromptTokens: 1000, CacheWriteTokens: 800}
	// 200 fresh at $3/M + 800 written at $3.75/M = 600 + 3000 nano-USD ×1000.
	assert.Equal(t, int64(200*3000+800*3750), sonnet.Cost(u))
}

// Trap: cache writes billed at the input rate.
func TestCostCacheWritesAtTheWriteRate(t *testing.T) {
	u := gateway.Usage{PromptTokens: 1000, CacheWriteTokens: 1000, CacheWrite1hTokens: 400}
	assert.Equal(t, int64(600*3750+400*6000), sonnet.Cost(u))
	assert.NotEqual(t, int64(1000*3000), sonnet.Cost(u), "not at the input rate")
}

// Trap: cached reads billed as fresh input.
func TestCostCachedReadsAtTheReadRate(t *testing.T) {
	u := gateway.Usage{PromptTokens: 10_000, CachedTokens: 9_000, CompletionTokens: 10}
	assert.Equal(t, int64(1000*3000+9000*300+10*15000), sonnet.Cost(u))
}

// Trap: a price list with no cache-write price bills writes at zero. A
// missing cache price falls back to the input rate.
func TestCostMissingCacheWritePriceBillsInputNotZero(t *testing.T) {
	p := billing.Price{Input: billing.PerM(3), Output: billing.PerM(15)}
	u := gateway.Usage{PromptTokens: 1000, CachedTokens: 100, CacheWriteTokens: 500, CacheWrite1hTokens: 100}
	assert.Equal(t, int64(1000*3000), p.Cost(u))
	// A missing one-hour price falls back to the five-minute one.
	p.CacheWrite = billing.PerM(3.75)
	assert.Equal(t, int64(400*3000+100*3000+500*3750), p.Cost(u))
}

// Reasoning tokens are part of the completion: billed once, at output.
func TestCostReasoningTokensBilledOnce(t *testing.T) {
	u := gateway.Usage{PromptTokens: 0, CompletionTokens: 100, ReasoningTokens: 80}
	assert.Equal(t, int64(100*15000), sonnet.Cost(u))
}

// Usage whose cached and written tokens exceed its prompt tokens counts
// the fresh ones only (Anthropic's input_tokens): they are billed in full.
func TestCostExclusivePromptTokensBilledInFull(t *testing.T) {
	u := gateway.Usage{PromptTokens: 50, CachedTokens: 900, CacheWriteTokens: 100}
	assert.Equal(t, int64(50*3000+900*300+100*3750), sonnet.Cost(u))
}

// Costs are exact integers, rounded once, half up, and saturate.
func TestCostIsExactAndSaturates(t *testing.T) {
	p := billing.Price{Input: billing.PerM(0.075), Output: billing.PerM(0.3)}
	assert.Equal(t, int64(75_000_000), p.Cost(gateway.Usage{PromptTokens: 1_000_000}))
	assert.Equal(t, int64(75), p.Cost(gateway.Usage{PromptTokens: 1}))
	tiny := billing.Price{Input: 500} // 0.0005 nano-dollars a token
	assert.Equal(t, int64(0), tiny.Cost(gateway.Usage{PromptTokens: 999}), "0.4995 rounds down")
	assert.Equal(t, int64(1), tiny.Cost(gateway.Usage{PromptTokens: 1000}), "0.5 rounds up")
	huge := billing.Price{Output: math.MaxInt64}
	assert.Equal(t, int64(math.MaxInt64), huge.Cost(gateway.Usage{CompletionTokens: math.MaxInt32}))
	assert.Equal(t, int64(0), sonnet.Cost(gateway.Usage{PromptTokens: -5, CompletionTokens: -1}))
}
