package provider_test

import (
	"context"
	"fmt"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/provider"
)

func ExampleNewAnthropic() {
	up, err := gatewaytest.NewAnthropicServer(gatewaytest.AnthropicConfig{Reply: "Bonjour",
		Usage: gatewaytest.AnthropicUsage{InputTokens: 8, CacheReadTokens: 1024}})
	if err != nil {
		panic(err)
	}
	defer up.Close()

	// In production: BaseURL left out (api.anthropic.com), APIKey from
	// os.Getenv("ANTHROPIC_API_KEY").
	p, err := provider.NewAnthropic(provider.AnthropicConfig{BaseURL: up.BaseURL(), APIKey: "sk-ant-example"})
	if err != nil {
		panic(err)
	}
	defer p.CloseIdleConnections()

	// The OpenAI SDK, served by Claude.
	client := openai.NewClient(option.WithHTTPClient(gateway.NewClient(p)), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	res, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "claude-sonnet-4-5",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello in French")},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Choices[0].Message.Content, res.Choices[0].FinishReason)
	fmt.Println(res.Usage.PromptTokens, res.Usage.PromptTokensDetails.CachedTokens)
	// Output:
	// Bonjour stop
	// 1032 1024
}
