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

func ExampleNewGemini() {
	// A fake Gemini API, so the example needs no network or key.
	upstream, err := gatewaytest.NewGeminiServer(gatewaytest.GeminiConfig{APIKey: "AIza-upstream",
		Reply: gatewaytest.GeminiReply{Text: "Hello from Gemini!", Usage: gatewaytest.GeminiUsage{PromptTokens: 9, CachedTokens: 4}}})
	if err != nil {
		panic(err)
	}
	defer upstream.Close()

	p, err := provider.NewGemini(provider.GeminiConfig{
		BaseURL: upstream.BaseURL(), // default: provider.DefaultGeminiBaseURL
		APIKey:  "AIza-upstream",    // os.Getenv("GEMINI_API_KEY")
	})
	if err != nil {
		panic(err)
	}
	defer p.CloseIdleConnections()

	// An OpenAI SDK, unchanged, talks to Gemini.
	client := openai.NewClient(option.WithHTTPClient(gateway.NewClient(p)),
		option.WithBaseURL("http://gateway.invalid/v1/"), option.WithAPIKey("app-key"), option.WithMaxRetries(0))
	res, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gemini-2.5-flash",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Say hello")},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Choices[0].Message.Content, res.Choices[0].FinishReason)
	fmt.Println("prompt tokens:", res.Usage.PromptTokens, "cached:", res.Usage.PromptTokensDetails.CachedTokens)
	sent := upstream.Requests()[0]
	fmt.Println("upstream:", sent.Method, sent.Path, sent.Header.Get("X-Goog-Api-Key"))
	// Output:
	// Hello from Gemini! stop
	// prompt tokens: 9 cached: 4
	// upstream: POST /v1beta/models/gemini-2.5-flash:generateContent AIza-upstream
}
