package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// NewServer serves the handler with a public gateway's timeouts and caps;
// even a request net/http refuses itself is answered in the OpenAI shape.
func ExampleNewServer() {
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	srv := gateway.NewServer("127.0.0.1:0", gateway.NewHandler(sim))
	srv.MaxConns = 1000 // the caps are fields, as the embedded http.Server's are

	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	_, _ = io.WriteString(c, "GET /v1/models HTTP/1.1\r\n\r\n") // no Host header
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, resp.Header.Get("Content-Type"))
	fmt.Print(string(body))

	_ = srv.Shutdown(context.Background())
	fmt.Println(<-done)
	// Output:
	// 400 Bad Request application/json
	// {"error":{"message":"gateway: bad request: missing required Host header","type":"invalid_request_error","param":null,"code":"invalid_request"}}
	// http: Server closed
}
