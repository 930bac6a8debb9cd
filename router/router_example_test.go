package router_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
)

// A router over a primary provider that is down and a backup tier that
// serves the same calls with another model: the SDK's call succeeds, served
// by the backup.
func ExampleNew() {
	primary := gatewaytest.MustNewSim("openai", gatewaytest.SimConfig{
		Models: []string{"gpt-4.1"},
		Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{503}}, // down
		Seed:   1,
	})
	backup := gatewaytest.MustNewSim("anthropic", gatewaytest.SimConfig{
		Models:           []string{"claude-sonnet-4.5"},
		Reply:            "Hello from the backup.",
		CompletionTokens: 4,
	})
	rtr, err := router.New("llm", []router.Target{
		{Provider: primary, Weight: 1},
		{Provider: backup, Weight: 1, Tier: 1, ModelMap: map[string]string{"gpt-4.1": "claude-sonnet-4.5"}},
	}, router.Config{})
	if err != nil {
		log.Fatal(err)
	}
	client := openai.NewClient(
		option.WithHTTPClient(gateway.NewClient(rtr)),
		option.WithBaseURL("http://gateway.invalid/v1"),
		option.WithAPIKey("unused"),
		option.WithMaxRetries(0), // the gateway owns retries and fallbacks
	)
	c, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4.1",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Model+":", c.Choices[0].Message.Content)
	// Output: claude-sonnet-4.5: Hello from the backup.
}

// A canary takes 5% of the calls: it is just a weight, and Update changes
// it at run time without dropping a call.
func ExampleRouter_Update() {
	stable := gatewaytest.MustNewSim("stable", gatewaytest.SimConfig{})
	canary := gatewaytest.MustNewSim("canary", gatewaytest.SimConfig{})
	rtr, err := router.New("llm", []router.Target{{Provider: stable, Weight: 1}}, router.Config{})
	if err != nil {
		log.Fatal(err)
	}
	err = rtr.Update([]router.Target{
		{Provider: stable, Weight: 95},
		{Provider: canary, Weight: 5},
	})
	if err != nil {
		log.Fatal(err)
	}
	client := gateway.NewClient(rtr)
	for range 200 {
		resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"gpt-4.1","messages":[{"role":"user","content":"Hi"}]}`))
		if err != nil || resp.StatusCode != http.StatusOK {
			log.Fatal(err)
		}
		resp.Body.Close()
	}
	fmt.Println("stable:", stable.Requests(), "canary:", canary.Requests())
	// Output: stable: 190 canary: 10
}
