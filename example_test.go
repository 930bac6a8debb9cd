package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
)

// The package's sample: a chain of a logging middleware and Retry over a
// simulated provider, for an SDK in client mode and served in server mode.
func Example() {
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Reply: "Hello from the gateway", CompletionTokens: 4})
	logCalls := func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			c := gateway.CallFrom(req.Context())
			fmt.Println(c.Op, "call", c.ID != "")
			return next.RoundTrip(req)
		})
	}
	retry, err := breaker.Retry(breaker.RetryConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	rt := gateway.Chain(sim, logCalls, retry) // logCalls(retry(boundary(sim)))

	client := openai.NewClient(
		option.WithHTTPClient(gateway.NewClient(rt)),
		option.WithBaseURL("http://gateway.invalid/v1"), // never dialled: the chain answers
		option.WithAPIKey("unused"),
		option.WithMaxRetries(0), // the chain owns retries
	)
	resp, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Choices[0].Message.Content)

	mux := http.NewServeMux()
	mux.Handle("/v1/", gateway.NewHandler(rt))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	r, err := http.Get(srv.URL + "/v1/models")
	if err != nil {
		fmt.Println(err)
		return
	}
	r.Body.Close()
	fmt.Println(r.StatusCode)
	// Output:
	// chat call true
	// Hello from the gateway
	// models call true
	// 200
}

// A guard edits what every attempt sends with WithBody; the Call still
// describes what the caller asked.
func ExampleWithBody() {
	capLength := func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			body := gateway.OutboundFrom(req.Context()).Body
			edited := bytes.Replace(body, []byte(`"max_tokens":64`), []byte(`"max_tokens":8`), 1)
			out, err := gateway.WithBody(req, edited)
			if err != nil {
				return nil, err
			}
			return next.RoundTrip(out)
		})
	}
	upstream := gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		fmt.Println("sent:", string(gateway.OutboundFrom(req.Context()).Body))
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(`{"choices":[]}`)), Request: req}, nil
	})
	client := gateway.NewClient(gateway.Chain(upstream, capLength))
	resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","max_tokens":64,"messages":[]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	// Output:
	// sent: {"model":"m","max_tokens":8,"messages":[]}
}

// An SDK's client gets the chain by its *http.Client; the chain owns retries,
// so the SDK's own are turned off.
func ExampleNewClient() {
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Reply: "Hello from the gateway"})
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
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Models: []string{"gpt-4o-mini"}})
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
	rt := gateway.Chain(gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{}), logModel)
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

// An observer sees every call once it has ended, with its attempts and
// usage: the seam for access logs, usage records and metrics. In client mode
// it is the way to get the Call back after an SDK call.
func ExampleWithObserver() {
	flaky := gatewaytest.MustNewSim("flaky", gatewaytest.SimConfig{Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{503}}})
	backup := gatewaytest.MustNewSim("backup", gatewaytest.SimConfig{CompletionTokens: 3})
	rtr, err := router.New("llm", []router.Target{
		{Provider: flaky, Weight: 1},
		{Provider: backup, Weight: 1, Tier: 1},
	}, router.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	logCall := func(c *gateway.Call) {
		var tries []string
		for _, a := range c.Attempts() {
			tries = append(tries, fmt.Sprintf("%s:%d", a.Target, a.Status))
		}
		target, _ := c.Served()
		u, _ := c.Usage()
		status, _ := c.Result()
		fmt.Println(status, strings.Join(tries, " "), "served by", target, u.CompletionTokens, "tokens")
	}
	client := gateway.NewClient(rtr, gateway.WithObserver(logCall))
	resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// Output:
	// 200 flaky:503 backup:200 served by backup 3 tokens
}

// A middleware changes what an attempt sends with WithModel and WithBody;
// the Call keeps what the caller asked, and the attempt records what was
// sent.
func ExampleWithModel() {
	pin := func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			return next.RoundTrip(gateway.WithModel(req, "gpt-4o-mini-2024-07-18"))
		})
	}
	client := gateway.NewClient(gateway.Chain(gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{}), pin),
		gateway.WithObserver(func(c *gateway.Call) {
			_, sent := c.Served()
			fmt.Println("asked", c.Model, "sent", sent)
		}))
	resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// Output:
	// asked gpt-4o-mini sent gpt-4o-mini-2024-07-18
}

// The gateway's own refusals carry a mark that a provider's errors never do,
// so a client can tell "no target could serve" from an upstream's 503.
func ExampleErrorFromResponse() {
	down := gatewaytest.MustNewSim("down", gatewaytest.SimConfig{Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{503}}})
	client := gateway.NewClient(down)
	for range 2 {
		resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"m","messages":[]}`))
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode, gateway.ErrorFromResponse(resp) != nil)
	}
	resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json", strings.NewReader(`{"model":`))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, errors.Is(gateway.ErrorFromResponse(resp), gateway.ErrBadRequest))
	// Output:
	// 503 false
	// 503 false
	// 400 true
}
