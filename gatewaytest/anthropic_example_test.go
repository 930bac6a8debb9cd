package gatewaytest_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/llmgate/gateway/gatewaytest"
)

func ExampleNewAnthropicServer() {
	// A fake Anthropic Messages API on a loopback socket.
	a, err := gatewaytest.NewAnthropicServer(gatewaytest.AnthropicConfig{APIKey: "sk-ant-test", Reply: "Hello there"})
	if err != nil {
		panic(err)
	}
	defer a.Close()

	post := func(body string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, a.BaseURL()+"/v1/messages", strings.NewReader(body))
		req.Header.Set("X-Api-Key", "sk-ant-test")
		req.Header.Set("Anthropic-Version", "2023-06-01")
		resp, err := a.Client().Do(req)
		if err != nil {
			panic(err)
		}
		return resp
	}
	resp := post(`{"model":"claude-x","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, strings.Contains(string(b), `"text":"Hello there"`))

	// A stream, cut after one content delta: no message_stop.
	if err := a.SetAnthropicFaults(gatewaytest.AnthropicFaults{CutAfter: 1}); err != nil {
		panic(err)
	}
	resp = post(`{"model":"claude-x","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	var names []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			names = append(names, name)
		}
	}
	resp.Body.Close()
	fmt.Println(strings.Join(names, " "))

	// Overloaded, as Anthropic says it.
	if err := a.SetAnthropicFaults(gatewaytest.AnthropicFaults{Status: 529}); err != nil {
		panic(err)
	}
	resp = post(`{"model":"claude-x","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(b))
	// Output:
	// 200 true
	// message_start ping content_block_start content_block_delta
	// 529 {"type":"error","error":{"type":"overloaded_error","message":"fake fault 529"}}
}
