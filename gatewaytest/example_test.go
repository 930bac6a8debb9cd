package gatewaytest_test

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/llmgate/gateway/gatewaytest"
)

func ExampleNewServer() {
	// A simulated model behind a real loopback socket.
	s := gatewaytest.NewServer(gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Models: []string{"m1"}}))
	defer s.Close()

	req, _ := http.NewRequest(http.MethodPost, s.BaseURL()+"/chat/completions",
		strings.NewReader(`{"model":"m1","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer sk-upstream")
	resp, err := s.Client().Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)

	// What the upstream received.
	got := s.Requests()[0]
	fmt.Println(got.Method, got.Path, got.Header.Get("Authorization"))

	// Every connection is now reset before an answer.
	s.SetFaults(gatewaytest.SocketFaults{ResetRate: 1})
	_, err = s.Client().Post(s.BaseURL()+"/chat/completions", "application/json",
		strings.NewReader(`{"model":"m1","messages":[]}`))
	fmt.Println(err != nil, s.Count())
	// Output:
	// 200
	// POST /v1/chat/completions Bearer sk-upstream
	// true 2
}

func ExampleClock() {
	clk := gatewaytest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	done := make(chan time.Time)
	go func() {
		// What a component given clk does to wait a minute.
		fire, _ := clk.NewTimer(time.Minute)
		done <- <-fire
	}()

	clk.BlockUntil(1) // the goroutine is waiting on the clock
	clk.Advance(time.Minute)
	fmt.Println((<-done).Format(time.TimeOnly), clk.Now().Format(time.TimeOnly))
	// Output: 00:01:00 00:01:00
}
