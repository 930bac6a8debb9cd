package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// An SDK's client gets the chain by its *http.Client; the chain owns retries,
// so the SDK's own are turned off.
func ExampleNewClient() {
	sim := gatewaytest.NewSim("sim", gatewaytest.SimConfig{Reply: "Hello from the gateway"})
	client := openai.NewClient(
		option.WithHTTPClient(gateway.NewClient(sim)),
		option.WithBaseURL("http://gateway.invalid/v1"), // never dialled: the chain answers
		option.WithAPIKey("unused"),
		option.WithMaxRetries(0),
	)
	resp, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:     "gpt-4o-mini",
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")},
		MaxTokens: openai.Int(4),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Choices[0].Message.Content)
	fmt.Println(resp.Usage.CompletionTokens, "completion tokens")
	// Output:
	// Hello from the gateway
	// 4 completion tokens
}

// The handler serves an OpenAI-compatible API from a service's own mux.
func ExampleNewHandler() {
	sim := gatewaytest.NewSim("sim", gatewaytest.SimConfig{Models: []string{"gpt-4o-mini"}})
	mux := http.NewServeMux()
	mux.Handle("/v1/", gateway.NewHandler(sim))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-5","messages":[{"role":"user","content":"Hi"}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, strings.Contains(string(b), `"code":"model_not_found"`))

	resp, err = http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":`))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	b, _ = io.ReadAll(resp.Body)
	fmt.Print(resp.StatusCode, " ", string(b))
	// Output:
	// 404 true
	// 400 {"error":{"message":"gateway: invalid JSON at byte 9","type":"invalid_request_error","param":null,"code":"invalid_request"}}
}

// Middlewares read the Call the entry point parsed, instead of the body.
func ExampleChain() {
	logModel := func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			c := gateway.CallFrom(req.Context())
			fmt.Printf("%s model=%s stream=%v max_tokens=%d\n", c.Op, c.Model, c.Stream, c.MaxTokens)
			return next.RoundTrip(req)
		})
	}
	rt := gateway.Chain(gatewaytest.NewSim("sim", gatewaytest.SimConfig{}), logModel)
	resp, err := gateway.NewClient(rt).Post("http://gateway.invalid/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o-mini","max_tokens":8,"messages":[{"role":"user","content":"Hi"}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// Output:
	// chat model=gpt-4o-mini stream=false max_tokens=8
}

func ExampleParseCall() {
	c, err := gateway.ParseCall(gateway.OpChat,
		[]byte(`{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"How many tokens is this?"}]}`),
		gateway.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Model, c.Stream, c.PromptTokens)
	// Output: gpt-4.1 true 14
}
