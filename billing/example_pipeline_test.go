package billing_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/llmgate/gateway/billing"
)

// A pipeline with two sinks: a JSONL file and a function of the user's own.
// Records enqueued go to both; Close drains them before it returns.
func ExamplePipeline() {
	dir, _ := os.MkdirTemp("", "billing-example")
	defer os.RemoveAll(dir)

	usage, err := billing.NewJSONL(billing.JSONLConfig{Path: filepath.Join(dir, "usage.jsonl")})
	if err != nil {
		panic(err)
	}
	defer usage.Close()
	var tokens int
	count := billing.SinkFunc(func(_ context.Context, batch []billing.Record) error {
		for _, r := range batch {
			tokens += r.Usage.PromptTokens + r.Usage.CompletionTokens
		}
		return nil
	})

	p, err := billing.NewPipeline(billing.PipelineConfig{
		Dir:   filepath.Join(dir, "wal"), // the write-ahead log; replayed on the next start
		Sinks: map[string]billing.Sink{"jsonl": usage, "tokens": count},
	})
	if err != nil {
		panic(err)
	}
	for i := range 3 {
		r := billing.Record{CallID: fmt.Sprintf("call-%d", i), Attempt: 1, Time: time.Now(), ModelAsked: "gpt-4o-mini"}
		r.Usage.PromptTokens, r.Usage.CompletionTokens = 10, 5
		if err := p.Enqueue(r); err != nil {
			panic(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		panic(err)
	}
	st := p.Stats()
	fmt.Println("jsonl:", st.Sinks["jsonl"].Written, "tokens:", tokens, "dropped:", st.Dropped)
	// Output: jsonl: 3 tokens: 45 dropped: 0
}
