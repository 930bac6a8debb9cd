package config_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/llmgate/gateway/config"
)

// A service serves the admin listener a file asks for (admin.listen) on a
// second server: the probes and, with admin.pprof, the runtime's profiles,
// which the main handler never serves. Health checks probe no sim, so this
// makes no network call.
func ExampleGateway_AdminHandler() {
	const file = `
providers:
  - {name: local, type: sim, models: [gpt-4o-mini]}
health: {interval: 30s}
admin: {listen: "127.0.0.1:0", pprof: true}
`
	f, err := config.Parse("service.yaml", []byte(file), os.LookupEnv)
	if err != nil {
		fmt.Println(err)
		return
	}
	gw, err := config.Build(f, config.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer gw.Close()
	admin := httptest.NewServer(gw.AdminHandler()) // a real service listens on gw.AdminListen()
	defer admin.Close()
	main := httptest.NewServer(gw.Handler())
	defer main.Close()
	for _, u := range []string{admin.URL + "/readyz", admin.URL + "/debug/pprof/", main.URL + "/readyz", main.URL + "/debug/pprof/"} {
		resp, err := http.Get(u)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	fmt.Printf("%+v\n", gw.HealthStats())
	// Output:
	// 200
	// 200
	// 200
	// 404
	// {Down:0 Up:0}
}
