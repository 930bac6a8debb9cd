package config

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The bound on request-body bytes held at once covers the calls in flight
// across a reload: a reload (here of the same file) starts no new, empty
// budget beside the one the calls before it hold.
func TestReloadKeepsTheBoundOnBodyBytesInFlight(t *testing.T) {
	arrived, release := make(chan struct{}, 4), make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		arrived <- struct{}{}
		<-release
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
	}))
	defer up.Close()
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	y := fmt.Sprintf("providers: [{name: up, type: openai, base_url: %q, api_key: sk-up, models: [m]}]\n"+
		"limits: {max_body_bytes: 50000, max_body_bytes_in_flight: 100001}\nhedge: {disable: true}\nhealth: {disable: true}\n", up.URL+"/v1")
	g, base := reloadGateway(t, y, Options{})
	big := `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("a", 45000) + `"}]}`
	send := func(done chan<- int) {
		resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(big))
		if err != nil {
			done <- 0
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done <- resp.StatusCode
	}
	first := make(chan int, 1)
	go send(first)
	<-arrived // the first call holds its 45 kB upstream
	require.NoError(t, reloadWith(t, g, y))

	second := make(chan int, 1)
	go send(second)
	select {
	case <-arrived:
		t.Error("the second call reached the upstream: the reload reset the bound on body bytes in flight")
	case code := <-second:
		assert.Contains(t, []int{http.StatusServiceUnavailable, http.StatusTooManyRequests}, code, "refused for the bytes in flight")
	}
	close(release)
	released = true
	assert.Equal(t, http.StatusOK, <-first)
}
