// Command client shows client mode: the official openai-go SDK, unchanged,
// with the gateway as its *http.Client. The chain is a retry over a router
// of two in-process simulated providers, a flaky primary and a backup, so
// it needs no key and no network:
//
//	go run ./examples/client
//
// It makes a chat call and a streamed one, and prints each reply with what
// the gateway recorded of its call: the attempts, who served it, the usage.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer) error {
	models := []string{"gpt-4o-mini"}
	primary := gatewaytest.MustNewSim("primary", gatewaytest.SimConfig{Models: models, Seed: 3,
		Reply: "Hi! The primary answered.", CompletionTokens: 4,
		Faults: gatewaytest.Faults{ErrorRate: 0.5, ErrorStatuses: []int{503}}}) // fails half the calls
	backup := gatewaytest.MustNewSim("backup", gatewaytest.SimConfig{Models: models,
		Reply: "Hi! The backup answered.", CompletionTokens: 4})

	budget, err := breaker.NewBudget(breaker.BudgetConfig{}) // one budget for retries and fallbacks
	if err != nil {
		return err
	}
	rtr, err := router.New("llm", []router.Target{
		{Provider: primary, Weight: 1},
		{Provider: backup, Weight: 1, Tier: 1}, // only when the primary cannot serve
	}, router.Config{Budget: budget})
	if err != nil {
		return err
	}
	retry, err := breaker.Retry(breaker.RetryConfig{Budget: budget})
	if err != nil {
		return err
	}
	// The observer hands each finished Call back: its attempts, who served
	// it, its usage. It runs once per call, after the usage is recorded.
	calls := make(chan *gateway.Call, 1)
	observe := gateway.WithObserver(func(c *gateway.Call) { calls <- c })

	client := openai.NewClient(
		option.WithHTTPClient(gateway.NewClient(gateway.Chain(rtr, retry), observe)),
		option.WithBaseURL("http://gateway.invalid/v1"), // never dialled: the chain answers
		option.WithAPIKey("unused"),
		option.WithMaxRetries(0), // the gateway owns retries
	)
	params := openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hi.")},
	}

	for _, stream := range []bool{false, true} {
		var text string
		if stream {
			s := client.Chat.Completions.NewStreaming(ctx, params)
			var b strings.Builder
			for s.Next() {
				if ch := s.Current().Choices; len(ch) > 0 {
					b.WriteString(ch[0].Delta.Content)
				}
			}
			if err := s.Err(); err != nil {
				return err
			}
			s.Close() // the gateway records usage when the body ends or closes
			text = "stream: " + b.String()
		} else {
			c, err := client.Chat.Completions.New(ctx, params)
			if err != nil {
				return err
			}
			text = "chat: " + c.Choices[0].Message.Content
		}
		fmt.Fprintln(w, text)
		printCall(w, <-calls)
	}
	return nil
}

// printCall prints what the gateway recorded of a call.
func printCall(w io.Writer, c *gateway.Call) {
	var attempts []string
	for _, a := range c.Attempts() {
		attempts = append(attempts, fmt.Sprintf("%s:%d", a.Target, a.Status))
	}
	target, model := c.Served()
	u, _ := c.Usage()
	fmt.Fprintf(w, "  attempts [%s], served by %s (%s), usage %d prompt + %d completion tokens\n",
		strings.Join(attempts, " "), target, model, u.PromptTokens, u.CompletionTokens)
}
