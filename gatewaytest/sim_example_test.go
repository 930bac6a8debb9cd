package gatewaytest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

func ExampleNewSim() {
	sim, err := gatewaytest.NewSim("sim-a", gatewaytest.SimConfig{
		Models:           []string{"gpt-4o-mini"},
		CompletionTokens: 6,
	})
	if err != nil {
		panic(err)
	}
	client := gateway.NewClient(sim) // what an OpenAI SDK would be given

	resp, err := client.Post("http://sim.invalid/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say something."}]}`))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var out struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		panic(err)
	}
	fmt.Println(resp.StatusCode, out.Choices[0].Message.Content)
	fmt.Println("prompt", out.Usage.PromptTokens, "completion", out.Usage.CompletionTokens)
	fmt.Println("upstream calls:", sim.Requests())
	// Output:
	// 200 This is a simulated reply from
	// prompt 12 completion 6
	// upstream calls: 1
}

// A Sim's faults can change while it serves: here it is killed, then revived.
func ExampleSim_SetFaults() {
	sim := gatewaytest.MustNewSim("sim-a", gatewaytest.SimConfig{})
	client := gateway.NewClient(sim)
	call := func() int {
		resp, err := client.Post("http://sim.invalid/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"any","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println(call())
	sim.SetFaults(gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{http.StatusServiceUnavailable}})
	fmt.Println(call())
	sim.SetFaults(gatewaytest.Faults{})
	fmt.Println(call())
	// Output:
	// 200
	// 503
	// 200
}
