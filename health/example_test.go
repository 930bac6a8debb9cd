package health_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/health"
	"github.com/llmgate/gateway/router"
)

// downProvider is a Provider whose health check always fails.
type downProvider struct{}

func (downProvider) Name() string { return "primary" }
func (downProvider) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("not for calls")
}
func (downProvider) HealthCheck(context.Context) error { return errors.New("upstream down") }

// A Checker probes the targets that can check themselves and gives the
// router a gate for each; a transition is told to OnChange. The fake clock
// stands in for time.
func ExampleNewChecker() {
	clk := gatewaytest.NewClock(time.Unix(0, 0))
	told := make(chan struct{})
	checker, err := health.NewChecker([]health.Target{{Provider: downProvider{}}}, health.Config{
		UnhealthyThreshold: 1,
		Clock:              clk,
		OnChange: func(target string, healthy bool, err error) {
			fmt.Println(target, healthy, err)
			close(told)
		},
	})
	if err != nil {
		panic(err)
	}
	defer checker.Close()
	backup := gatewaytest.MustNewSim("backup", gatewaytest.SimConfig{})
	_, err = router.New("llm", []router.Target{
		{Provider: downProvider{}, Weight: 1, Healthy: checker.Healthy("primary")},
		{Provider: backup, Weight: 1, Tier: 1, Healthy: checker.Healthy("backup")}, // nil: the simulator is not probed
	}, router.Config{})
	if err != nil {
		panic(err)
	}

	clk.BlockUntil(1)
	clk.Advance(health.DefaultInterval)
	<-told
	fmt.Println("primary passes:", checker.Healthy("primary")())
	// Output:
	// primary false health: target "primary": probe failed: upstream down
	// primary passes: false
}

// Readiness is an http.Handler for /readyz: ready while every configured
// model has a target that can serve it and every check answers.
func ExampleNewReadiness() {
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Models: []string{"gpt-4.1"}})
	rtr, err := router.New("llm", []router.Target{{Provider: sim, Weight: 1}}, router.Config{})
	if err != nil {
		panic(err)
	}
	ready, err := health.NewReadiness(rtr, health.ReadinessConfig{Checks: []health.Check{
		{Name: "keys", Fn: func(context.Context) error { return nil }}, // e.g. the key store's ping
	}})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux() // outside the auth middleware
	mux.Handle("GET /healthz", health.Alive())
	mux.Handle("GET /readyz", ready)

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	fmt.Print(w.Code, " ", w.Body.String())
	// Output:
	// 200 {"status":"ready"}
}
