package provider_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/provider"
)

func ExampleNewOpenAI() {
	// A stand-in for https://api.openai.com, so the example needs no network.
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("upstream:", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4.1-2025-04-14",`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`)
	}))
	defer upstream.Close()

	p, err := provider.NewOpenAI(provider.OpenAIConfig{
		BaseURL:  upstream.URL + "/v1", // "https://api.openai.com/v1"
		APIKey:   "sk-upstream",
		ModelMap: map[string]string{"gpt-4.1": "gpt-4.1-2025-04-14"},
	})
	if err != nil {
		panic(err)
	}
	defer p.CloseIdleConnections()

	// The SDK's base URL and key never leave the process: the provider sends
	// to its BaseURL with its own key.
	client := openai.NewClient(
		option.WithHTTPClient(gateway.NewClient(p)),
		option.WithBaseURL("http://gateway.invalid/v1/"),
		option.WithAPIKey("app-virtual-key"),
		option.WithMaxRetries(0),
	)
	res, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4.1",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Model, res.Choices[0].Message.Content)
	// Output:
	// upstream: POST /v1/chat/completions Bearer sk-upstream
	// gpt-4.1-2025-04-14 Hello!
}

func ExampleNewOpenAI_azure() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("upstream:", r.URL.RequestURI(), "api-key:", r.Header.Get("Api-Key"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":1,"total_tokens":1}}`)
	}))
	defer upstream.Close()

	p, err := provider.NewOpenAI(provider.OpenAIConfig{
		Name:    "azure-eastus",
		BaseURL: upstream.URL, // "https://NAME.openai.azure.com"
		APIKey:  "azure-key",
		Azure: &provider.AzureConfig{
			APIVersion:  "2024-10-21",
			Deployments: map[string]string{"text-embedding-3-small": "embed-prod"},
		},
	})
	if err != nil {
		panic(err)
	}
	defer p.CloseIdleConnections()

	client := openai.NewClient(option.WithHTTPClient(gateway.NewClient(p)), option.WithMaxRetries(0))
	res, err := client.Embeddings.New(context.Background(), openai.EmbeddingNewParams{
		Model: "text-embedding-3-small",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(res.Data), "embedding")
	// Output:
	// upstream: /openai/deployments/embed-prod/embeddings?api-version=2024-10-21 api-key: azure-key
	// 1 embedding
}
