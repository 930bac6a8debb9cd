package limiter_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/limiter"
)

// A limit of 2 requests a minute per key: the third call is refused with
// 429, a Retry-After computed from the limit and the x-ratelimit headers.
func ExampleLimiter_Middleware() {
	lim, err := limiter.New(limiter.Config{Rules: []limiter.Rule{
		{Name: "key-rpm", Dimensions: []limiter.Dimension{limiter.KeyID}, Unit: limiter.Requests, Limit: 2, Per: limiter.Minute},
	}})
	if err != nil {
		panic(err)
	}
	defer lim.Close()
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	client := gateway.NewClient(gateway.Chain(sim, lim.Middleware()))

	ctx := gateway.WithCaller(context.Background(), gateway.Caller{KeyID: "team-a"})
	for range 3 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://gateway.invalid/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
		resp, err := client.Do(req)
		if err != nil {
			panic(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Printf("%d remaining=%s retry-after=%s\n", resp.StatusCode,
			resp.Header.Get("X-Ratelimit-Remaining-Requests"), resp.Header.Get("Retry-After"))
	}
	// Output:
	// 200 remaining=1 retry-after=
	// 200 remaining=0 retry-after=
	// 429 remaining=0 retry-after=30
}
