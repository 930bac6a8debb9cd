package provider_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/provider"
)

// A layer over a provider's transport (here one that adds a header; a
// tracing layer in practice) keeps the provider's tuned transport by
// wrapping NewTransport instead of http.DefaultTransport.
func ExampleNewTransport() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("upstream saw X-Layer:", r.Header.Get("X-Layer"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4.1",`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}`)
	}))
	defer upstream.Close()

	base := provider.NewTransport()
	defer base.CloseIdleConnections()
	layer := gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		req = req.Clone(req.Context()) // a RoundTripper must not change its caller's request
		req.Header.Set("X-Layer", "on")
		return base.RoundTrip(req)
	})
	p, err := provider.NewOpenAI(provider.OpenAIConfig{BaseURL: upstream.URL + "/v1", APIKey: "sk-upstream", Transport: layer})
	if err != nil {
		panic(err)
	}
	resp, err := gateway.NewClient(p).Post("http://gateway/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		panic(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Println("status:", resp.StatusCode)
	// Output:
	// upstream saw X-Layer: on
	// status: 200
}
