// Command custom-provider serves a model backend written in a few lines
// (Echo, in echo.go) as an OpenAI-compatible API with gateway.NewHandler:
//
//	go run ./examples/custom-provider
//	curl -s http://127.0.0.1:8081/v1/chat/completions -H 'Content-Type: application/json' \
//	  -d '{"model":"echo","messages":[{"role":"user","content":"Hello, echo!"}]}'
//
// Any SDK pointed at http://127.0.0.1:8081/v1 can use it, streaming or not.
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/llmgate/gateway"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	flag.Parse()
	log.Printf("echo model on http://%s/v1", *addr)
	log.Fatal(gateway.NewServer(*addr, newMux()).ListenAndServe())
}

// newMux serves Echo under /v1/: chat completions (streamed or not) and the
// model list; the Handler answers anything else with an OpenAI-style error.
func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/v1/", gateway.NewHandler(Echo{}))
	return mux
}
