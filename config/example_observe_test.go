package config_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmgate/gateway/config"
)

// A service puts the gateway's metrics on its own registry (Handler serves
// them at metrics.path too) and, through Metrics, adds what it observes.
func ExampleGateway_Metrics() {
	f, err := config.Parse("service.yaml", []byte(`
providers:
  - {name: local, type: sim, models: [gpt-4o-mini], sim: {reply: "Hi.", completion_tokens: 2}}
`), os.LookupEnv)
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, _ := os.MkdirTemp("", "config-example")
	defer os.RemoveAll(dir)
	reg := prometheus.NewRegistry()
	gw, err := config.Build(f, config.Options{Registerer: reg, UsageFile: filepath.Join(dir, "usage.jsonl")})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer gw.Close()
	if err := gw.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(gw.Handler())
	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}`))
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	srv.Close()
	_ = gw.Stop(context.Background())
	fams, _ := reg.Gather()
	for _, mf := range fams {
		if mf.GetName() == "llmgate_calls_total" {
			for _, m := range mf.GetMetric() {
				fmt.Println(mf.GetName(), m.GetLabel()[0].GetValue(), m.GetCounter().GetValue())
			}
		}
	}
	fmt.Println(gw.MetricsPath(), gw.Metrics() != nil)
	// Output:
	// llmgate_calls_total ok 1
	// /metrics true
}

// The models a file names are the ones its metrics label by default.
func ExampleFile_ModelNames() {
	f, _ := config.Parse("gw.yaml", []byte(`
providers:
  - {name: a, type: sim, models: [gpt-4o-mini], model_map: {gpt-4o: gpt-4o-2024-08-06}}
`), os.LookupEnv)
	fmt.Println(f.ModelNames())
	// Output:
	// [gpt-4o gpt-4o-2024-08-06 gpt-4o-mini]
}
