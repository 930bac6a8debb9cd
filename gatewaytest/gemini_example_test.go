package gatewaytest_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/llmgate/gateway/gatewaytest"
)

func ExampleNewGeminiServer() {
	g, err := gatewaytest.NewGeminiServer(gatewaytest.GeminiConfig{APIKey: "test-key",
		Reply: gatewaytest.GeminiReply{Text: "Hi there", Usage: gatewaytest.GeminiUsage{PromptTokens: 3}}})
	if err != nil {
		panic(err)
	}
	defer g.Close()

	ask := func(method string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, g.BaseURL()+"/models/gemini-2.5-flash:"+method,
			strings.NewReader(`{"contents":[{"role":"user","parts":[{"text":"Hello"}]}]}`))
		req.Header.Set("X-Goog-Api-Key", "test-key")
		resp, err := g.Client().Do(req)
		if err != nil {
			panic(err)
		}
		return resp
	}
	// Gemini's streaming grammar: one event a word, the finishReason and
	// the whole usage in the last, no [DONE].
	resp := ask("streamGenerateContent?alt=sse")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	events := strings.Split(strings.TrimSpace(string(body)), "\r\n\r\n")
	fmt.Println(resp.StatusCode, len(events), strings.Contains(events[1], `"finishReason":"STOP"`))

	// Fail like Gemini: a 429 with RetryInfo.
	_ = g.SetGeminiFaults(gatewaytest.GeminiFaults{Status: 429, RetryDelay: 30 * time.Second})
	resp = ask("generateContent")
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, strings.Contains(string(body), `"retryDelay":"30s"`), g.Count())
	// Output:
	// 200 2 true
	// 429 true 2
}
