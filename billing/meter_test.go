package billing_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/billing"
	"github.com/llmgate/gateway/gatewaytest"
)

var gpt4o, _ = billing.DefaultPrices().Lookup("", "gpt-4o")

const (
	streamUsageApart = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}\n\n" +
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" world\"},\"finish_reason\":\"stop\"}]}\n\n" +
		"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2}}\n\n" +
		"data: [DONE]\n\n"
	streamUsageWithChoices = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}\n\n" +
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" world\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2}}\n\n" +
		"data: [DONE]\n\n"
	nonStream = `{"choices":[{"index":0,"message":{"role":"assistant","content":"Hello world"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":2}}`
)

// Trap: streamed usage that arrives only in the final event is dropped.
// Case 25: a final chunk with both choices and usage is counted once; and
// stream and non-stream cost match for the same tokens.
func TestMeterStreamUsageCountedOnceAndMatchesNonStream(t *testing.T) {
	want := gpt4o.Cost(gateway.Usage{PromptTokens: 10, CompletionTokens: 2})
	require.Positive(t, want)
	for _, tc := range []struct {
		name string
		p    canned
		body string
	}{
		{"usage in its own final chunk", canned{name: "up", body: streamUsageApart, stream: true}, strings.Replace(chatBody, `"model"`, `"stream":true,"model"`, 1)},
		{"usage with the last choices", canned{name: "up", body: streamUsageWithChoices, stream: true}, strings.Replace(chatBody, `"model"`, `"stream":true,"model"`, 1)},
		{"non-stream", canned{name: "up", body: nonStream}, chatBody},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, rec := newMeter(t, billing.MeterConfig{})
			call(t, gateway.Chain(tc.p, m.Middleware()), gateway.Caller{KeyID: "k1", Tenant: "t1"}, tc.body)
			recs := rec.all()
			require.Len(t, recs, 1)
			r := recs[0]
			assert.Equal(t, gateway.Usage{PromptTokens: 10, CompletionTokens: 2}, r.Usage)
			assert.Equal(t, want, r.Cost)
			assert.True(t, r.CostKnown)
			assert.Equal(t, "ok", r.Outcome)
			assert.Equal(t, 1, r.Attempt)
			assert.Equal(t, "k1", r.KeyID)
			assert.Equal(t, "t1", r.Tenant)
			assert.Equal(t, "up", r.Target)
			assert.Equal(t, "gpt-4o", r.ModelServed)
			assert.NotEmpty(t, r.CallID)
		})
	}
}

// Trap: the cache-write field is absent from OpenAI's usage format, so the
// write is billed zero. The usage readers take Anthropic's names, and the
// Meter bills writes at the write rate and reads at the read rate.
func TestMeterBillsAnthropicCacheFields(t *testing.T) {
	body := `{"choices":[{"message":{"content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":5,` +
		`"cache_creation_input_tokens":800,"cache_read_input_tokens":100}}`
	m, rec := newMeter(t, billing.MeterConfig{})
	call(t, gateway.Chain(canned{name: "anthropic", body: body}, m.Middleware()), gateway.Caller{},
		strings.Replace(chatBody, "gpt-4o", "claude-sonnet-4-5", 1))
	recs := rec.all()
	require.Len(t, recs, 1)
	assert.Equal(t, gateway.Usage{PromptTokens: 1000, CompletionTokens: 5, CachedTokens: 100, CacheWriteTokens: 800}, recs[0].Usage)
	assert.Equal(t, int64(100*3000+100*300+800*3750+5*15000), recs[0].Cost)
}

// An unknown model's cost is unknown, never a silent zero.
func TestMeterUnknownModelCostUnknown(t *testing.T) {
	m, rec := newMeter(t, billing.MeterConfig{})
	call(t, gateway.Chain(canned{name: "up", body: nonStream}, m.Middleware()), gateway.Caller{},
		strings.Replace(chatBody, "gpt-4o", "no-such-model", 1))
	recs := rec.all()
	require.Len(t, recs, 1)
	assert.False(t, recs[0].CostKnown)
	assert.Equal(t, int64(1), m.Stats().Unpriced)
}

// retryOnce is a stand-in for breaker.Retry: it sends a call again once
// after a 5xx answer.
func retryOnce(next http.RoundTripper) http.RoundTripper {
	return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		if err != nil || resp.StatusCode < 500 {
			return resp, err
		}
		resp.Body.Close()
		again := req.Clone(req.Context())
		again.Body, _ = req.GetBody()
		return next.RoundTrip(again)
	})
}

// flaky answers 503 to its first call and then like ok.
type flaky struct {
	canned
	calls int
}

func (f *flaky) RoundTrip(req *http.Request) (*http.Response, error) {
	f.calls++
	if f.calls == 1 {
		return canned{name: f.name, body: `{"error":{"message":"busy"}}`, status: 503}.RoundTrip(req)
	}
	return f.canned.RoundTrip(req)
}

// One record per attempt that reached a provider, failed ones included
// (cost zero), under one call id.
func TestMeterOneRecordPerAttempt(t *testing.T) {
	m, rec := newMeter(t, billing.MeterConfig{})
	p := &flaky{canned: canned{name: "up", body: nonStream}}
	call(t, gateway.Chain(p, m.Middleware(), retryOnce), gateway.Caller{}, chatBody)
	recs := rec.all()
	require.Len(t, recs, 2)
	assert.Equal(t, recs[0].CallID, recs[1].CallID)
	assert.Equal(t, []int{1, 2}, []int{recs[0].Attempt, recs[1].Attempt})
	assert.Equal(t, 503, recs[0].Status)
	assert.Equal(t, "upstream_error", recs[0].Outcome)
	assert.Zero(t, recs[0].Cost)
	assert.True(t, recs[0].CostKnown)
	assert.Equal(t, gpt4o.Cost(gateway.Usage{PromptTokens: 10, CompletionTokens: 2}), recs[1].Cost)
}

// Case 26: a stream cut after partial output bills what was delivered,
// estimated and flagged; a caller who leaves before any output is billed
// nothing.
func TestMeterPartialStreamBillsWhatWasDelivered(t *testing.T) {
	stream := strings.Replace(chatBody, `"model"`, `"stream":true,"model"`, 1)
	t.Run("cut", func(t *testing.T) {
		sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 16, Faults: gatewaytest.Faults{CutRate: 1, CutAfter: 4}})
		m, rec := newMeter(t, billing.MeterConfig{})
		call(t, gateway.Chain(sim, m.Middleware()), gateway.Caller{}, stream)
		recs := rec.all()
		require.Len(t, recs, 1)
		r := recs[0]
		assert.True(t, r.Usage.Estimated)
		// An estimate from the text of the four tokens delivered, not the 16
		// the whole reply has.
		assert.Positive(t, r.Usage.CompletionTokens)
		assert.Less(t, r.Usage.CompletionTokens, 8)
		assert.Equal(t, gpt4o.Cost(r.Usage), r.Cost)
		assert.Positive(t, r.Cost)
		assert.NotEqual(t, "ok", r.Outcome)
	})
	t.Run("nothing delivered", func(t *testing.T) {
		sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 16})
		m, rec := newMeter(t, billing.MeterConfig{})
		ctx := context.Background()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://gw/v1/chat/completions", strings.NewReader(stream))
		resp, err := gateway.NewClient(gateway.Chain(sim, m.Middleware())).Do(req)
		require.NoError(t, err)
		resp.Body.Close() // before reading anything
		recs := rec.all()
		require.Len(t, recs, 1)
		assert.True(t, recs[0].Usage.Estimated)
		assert.Zero(t, recs[0].Usage.CompletionTokens)
		assert.Zero(t, recs[0].Cost)
		assert.True(t, recs[0].CostKnown)
	})
}

// Through the official SDK: a stream and a non-stream call of the same
// reply are billed the same, once each.
func TestMeterThroughOpenAISDK(t *testing.T) {
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 8})
	m, rec := newMeter(t, billing.MeterConfig{})
	client := openai.NewClient(option.WithHTTPClient(gateway.NewClient(gateway.Chain(sim, m.Middleware()))),
		option.WithBaseURL("http://gateway.invalid/v1"), option.WithAPIKey("caller-key"), option.WithMaxRetries(0))
	params := openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello there")}}
	ctx := context.Background()
	_, err := client.Chat.Completions.New(ctx, params)
	require.NoError(t, err)
	s := client.Chat.Completions.NewStreaming(ctx, params)
	for s.Next() {
	}
	require.NoError(t, s.Err())
	require.NoError(t, s.Close())
	recs := rec.all()
	require.Len(t, recs, 2)
	assert.False(t, recs[0].Stream)
	assert.True(t, recs[1].Stream)
	assert.Equal(t, recs[0].Usage, recs[1].Usage)
	assert.Equal(t, 8, recs[0].Usage.CompletionTokens)
	assert.False(t, recs[0].Usage.Estimated)
	assert.Equal(t, recs[0].Cost, recs[1].Cost)
	assert.Positive(t, recs[0].Cost)
	assert.NotEqual(t, recs[0].CallID, recs[1].CallID)
}
