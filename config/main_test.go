package config

import (
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/llmgate/gateway/internal/syncbuf"
)

// TestMain checks that no test leaves a goroutine behind: the gateways
// built, their log writers, pipelines and watchers all end with their test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer collects what a gateway writes and signals each write
// (internal/syncbuf).
type syncBuffer = syncbuf.Buffer

func newSyncBuffer() *syncBuffer { return syncbuf.New() }

// completionBody is a 1.3 KB chat.completion with usage, the size of
// gwbench's mock answer.
var completionBody = []byte(`{"id":"chatcmpl-bench0001","object":"chat.completion","created":1763856000,"model":"gpt-4o-mini-2024-07-18",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"` + strings.Repeat("A gateway sits between applications and providers. ", 15) +
	`","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],` +
	`"usage":{"prompt_tokens":56,"completion_tokens":148,"total_tokens":204,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},` +
	`"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},` +
	`"service_tier":"default","system_fingerprint":"fp_bench01"}`)

// The replies of the embedded default's sims (Embedded).
var simReplies = map[string]string{
	"sim-a":      "Hello! This is sim-a, a simulated model behind the llmgate gateway.",
	"sim-b":      "Hello! This is sim-b, the flaky one; this time it worked.",
	"sim-backup": "Hello from sim-backup: tier 0 could not serve this call.",
}
