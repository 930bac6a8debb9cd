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

	"github.com/llmgate/gateway/config"
)

// A service loads the main job's configuration file and serves the chain
// it describes from its own server.
func Example() {
	const file = `
providers:
  - name: local
    type: sim
    models: [gpt-4o-mini]
    sim: {reply: "Hello from the simulator.", completion_tokens: 4}
logging: {level: warn}
`
	f, err := config.Parse("service.yaml", []byte(file), os.LookupEnv)
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, _ := os.MkdirTemp("", "config-example")
	defer os.RemoveAll(dir)
	logger, closeLogs := config.NewLogger(os.Stderr, f.Logging)
	defer closeLogs()
	gw, err := config.Build(f, config.Options{Logger: logger, UsageFile: filepath.Join(dir, "usage.jsonl")})
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
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, strings.Contains(string(body), "Hello from the simulator."))
	}
	srv.Close()
	_ = gw.Stop(context.Background())
	fmt.Println(gw.Targets(), gw.Listen())
	// Output:
	// 200 true
	// [local] 127.0.0.1:8080
}

// Every mistake is reported at once, by file, line and key: Parse keeps
// what it could not read for Build, which reports it with the rest.
func ExampleBuild() {
	f, err := config.Parse("bad.yaml", []byte("lisen: x\nmax_conns: lots\nproviders: [{name: a, type: simulator}]\n"), os.LookupEnv)
	if err != nil {
		fmt.Println(err) // a file that is no YAML
		return
	}
	_, err = config.Build(f, config.Options{})
	fmt.Println(err)
	// Output:
	// bad.yaml:1: lisen: unknown key
	// bad.yaml:2: max_conns: want an int, got a string
	// bad.yaml:3: providers[0].type: unknown type "simulator": want openai, azure, anthropic, gemini or sim
}

// A reload applies what it can live and refuses a file with any mistake,
// keeping the running configuration.
func ExampleGateway_Reload() {
	parse := func(weights string) *config.File {
		f, _ := config.Parse("gw.yaml", []byte(`
providers: [{name: a, type: sim}, {name: b, type: sim}]
router: {targets: [`+weights+`]}
`), os.LookupEnv)
		return f
	}
	gw, err := config.Build(parse(`{provider: a}`), config.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer gw.Close()
	fmt.Println(gw.Reload(parse(`{provider: a, weight: 3}, {provider: b}`)), gw.Targets())
	fmt.Println(gw.Reload(parse(`{provider: c}`)) != nil, gw.Targets())
	fmt.Printf("%+v\n", gw.ReloadStats())
	// Output:
	// <nil> [a b]
	// true [a b]
	// {Applied:1 Rejected:1}
}
