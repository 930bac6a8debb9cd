package billing_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/billing"
	"github.com/llmgate/gateway/gatewaytest"
)

// printRecorder prints each record; a real gateway hands them to the
// billing pipeline.
type printRecorder struct{}

func (printRecorder) Enqueue(r billing.Record) error {
	fmt.Printf("attempt %d on %s: %d+%d tokens, %d nano-USD (known %v)\n",
		r.Attempt, r.Target, r.Usage.PromptTokens, r.Usage.CompletionTokens, r.Cost, r.CostKnown)
	return nil
}

// A Meter in a client-mode chain: a tenant with a daily budget of one
// dollar, every call recorded with its cost when its body is closed.
func ExampleMeter() {
	m, err := billing.NewMeter(printRecorder{}, billing.MeterConfig{
		Budget: billing.BudgetConfig{
			Tenants: map[string]gateway.Budget{"acme": {Limit: 1e9, Period: "day"}}, // $1
			Policy:  billing.Expected,
		},
	})
	if err != nil {
		panic(err)
	}
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 5})
	client := gateway.NewClient(gateway.Chain(sim, m.Middleware()))

	ctx := gateway.WithCaller(context.Background(), gateway.Caller{KeyID: "k1", Tenant: "acme"})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://gateway.invalid/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}`))
	resp, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// Output:
	// attempt 1 on sim: 10+5 tokens, 4500 nano-USD (known true)
}

// Update swaps a running Meter's prices: the next call is priced at the new
// ones, and the budget store keeps every spend.
func ExampleMeter_Update() {
	prices := func(usdPerM float64) *billing.PriceTable {
		t, err := billing.NewPriceTable(map[string]billing.Price{"gpt-4o-mini": {Input: billing.PerM(usdPerM), Output: billing.PerM(usdPerM)}}, nil)
		if err != nil {
			panic(err)
		}
		return t
	}
	m, err := billing.NewMeter(printRecorder{}, billing.MeterConfig{Prices: prices(1)})
	if err != nil {
		panic(err)
	}
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 5})
	client := gateway.NewClient(gateway.Chain(sim, m.Middleware()))
	send := func() {
		resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}`))
		if err != nil {
			panic(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	send()
	if err := m.Update(billing.MeterConfig{Prices: prices(2)}); err != nil {
		panic(err)
	}
	send()
	// Output:
	// attempt 1 on sim: 10+5 tokens, 15000 nano-USD (known true)
	// attempt 1 on sim: 10+5 tokens, 30000 nano-USD (known true)
}

// TenantBudgets reads what each configured tenant has left in its
// current period: for a report, or for metrics at scrape time.
func ExampleMeter_TenantBudgets() {
	m, err := billing.NewMeter(printRecorder{}, billing.MeterConfig{
		Budget: billing.BudgetConfig{Tenants: map[string]gateway.Budget{"acme": {Limit: 1e9, Period: "day"}}}, // $1
	})
	if err != nil {
		panic(err)
	}
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 5})
	client := gateway.NewClient(gateway.Chain(sim, m.Middleware()))
	ctx := gateway.WithCaller(context.Background(), gateway.Caller{KeyID: "k1", Tenant: "acme"})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://gateway.invalid/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}`))
	resp, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	budgets, err := m.TenantBudgets(context.Background())
	if err != nil {
		panic(err)
	}
	for _, b := range budgets {
		fmt.Printf("%s: %d of %d nano-USD left\n", b.Tenant, b.Remaining(), b.Limit)
	}
	// Output:
	// attempt 1 on sim: 10+5 tokens, 4500 nano-USD (known true)
	// acme: 999995500 of 1000000000 nano-USD left
}
