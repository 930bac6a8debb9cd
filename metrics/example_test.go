package metrics_test

import (
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/billing"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/metrics"
)

// Metrics on a registry of their own, told of every call by the observer
// hook and served on /metrics.
func ExampleNew() {
	m, err := metrics.New(metrics.Config{Models: []string{"gpt-4.1"}})
	if err != nil {
		panic(err)
	}
	sim := gatewaytest.MustNewSim("openai", gatewaytest.SimConfig{})
	client := gateway.NewClient(sim, gateway.WithObserver(m.Observe))
	for _, model := range []string{"gpt-4.1", "made-up-model"} {
		resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			panic(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(w.Body.String(), "\n") {
		if strings.HasPrefix(line, "gen_ai_client_operation_duration_seconds_count") || strings.HasPrefix(line, "llmgate_calls_total") {
			fmt.Println(line)
		}
	}
	// Output:
	// gen_ai_client_operation_duration_seconds_count{error_type="",gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="gpt-4.1",gen_ai_response_model="gpt-4.1"} 1
	// gen_ai_client_operation_duration_seconds_count{error_type="",gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="other",gen_ai_response_model="other"} 1
	// llmgate_calls_total{outcome="ok",status="200"} 2
}

// A reload that was applied and one that was rejected, counted.
func ExampleMetrics_Reloaded() {
	m, err := metrics.New(metrics.Config{})
	if err != nil {
		panic(err)
	}
	m.Reloaded(nil)
	m.Reloaded(errors.New("config: targets[0].weight: must be positive"))
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(w.Body.String(), "\n") {
		if strings.HasPrefix(line, "llmgate_config_reloads_total") {
			fmt.Println(line)
		}
	}
	// Output:
	// llmgate_config_reloads_total{result="applied"} 1
	// llmgate_config_reloads_total{result="rejected"} 1
}

// The tenant budgets a Meter's configuration names, with what is left of
// each in its current period, read from the budget store at each scrape.
func ExampleMetrics_WatchBudgets() {
	m, err := metrics.New(metrics.Config{})
	if err != nil {
		panic(err)
	}
	meter, err := billing.NewMeter(&costs{}, billing.MeterConfig{
		Budget: billing.BudgetConfig{Tenants: map[string]gateway.Budget{"acme": {Limit: 5e9, Period: "month"}}}, // $5
	})
	if err != nil {
		panic(err)
	}
	m.WatchBudgets(meter)
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(w.Body.String(), "\n") {
		if strings.HasPrefix(line, "llmgate_budget_") {
			fmt.Println(line)
		}
	}
	// Output:
	// llmgate_budget_limit_usd{tenant="acme"} 5
	// llmgate_budget_read_errors_total 0
	// llmgate_budget_remaining_usd{tenant="acme"} 5
}
