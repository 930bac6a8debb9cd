// Package provider holds the gateway's adapters: gateway.Providers that
// speak to a model vendor's API. Each is an http.RoundTripper that receives
// a call in the OpenAI wire format and answers in it, so any of them can sit
// at the bottom of a middleware chain, behind gateway.NewHandler or
// gateway.NewClient, or as a target of a router.Router.
//
// OpenAI (NewOpenAI) adapts any OpenAI-compatible upstream: OpenAI, Azure
// OpenAI (AzureConfig), DeepSeek, vLLM, Ollama. It builds every upstream
// request from its configuration alone (BaseURL plus the operation's path,
// its own key and headers, never the caller's), sends the attempt's
// gateway.Outbound (renamed in place by its ModelMap), passes streams
// through unbuffered, and never follows redirects. ExampleNewOpenAI is this
// sample, runnable:
//
//	p, err := provider.NewOpenAI(provider.OpenAIConfig{
//		BaseURL:  "https://api.openai.com/v1",
//		APIKey:   os.Getenv("OPENAI_API_KEY"),
//		ModelMap: map[string]string{"gpt-4.1": "gpt-4.1-2025-04-14"},
//	})
//	client := openai.NewClient(option.WithHTTPClient(gateway.NewClient(p)), option.WithMaxRetries(0))
//
// Anthropic (NewAnthropic) adapts Anthropic's Messages API: it serves OpenAI
// chat calls, translated both ways (streams event by event, tool calls,
// thinking blocks, cache usage), and the gateway's Anthropic-format front
// door (/v1/messages) natively. OpenAI learns that front door too, by
// translation, so a Messages caller can be routed to any target:
//
//	p, err := provider.NewAnthropic(provider.AnthropicConfig{APIKey: os.Getenv("ANTHROPIC_API_KEY")})
//
// Gemini (NewGemini) adapts Google's Gemini API: it translates OpenAI chat
// calls (streaming or not), embeddings and model lists into
// generateContent, streamGenerateContent, embedContent and
// batchEmbedContents and the answers back, in one place (gemini_request.go
// one way, gemini_response.go the other, gemini_stream.go event by event),
// with the key in x-goog-api-key and error answers redacted as OpenAI's are
// (ExampleNewGemini):
//
//	p, err := provider.NewGemini(provider.GeminiConfig{APIKey: os.Getenv("GEMINI_API_KEY")})
//
// The router lives in package router, the simulated provider used by tests,
// benchmarks and the embedded default of the main job in package
// gatewaytest.
package provider
