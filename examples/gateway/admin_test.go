package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var adminLine = regexp.MustCompile(`admin listener: (http://\S+) \(/healthz, /readyz, /metrics, /debug/pprof/\)\n`)

// adminAny matches the admin listener's banner line, whatever it serves.
var adminAny = regexp.MustCompile(`admin listener: (http://\S+) \(`)

// The main job with admin.listen serves profiles and the probes on the
// admin listener (never on the main one), prints its address, and stops
// both cleanly on the same shutdown.
func TestRunAdminListenerServesPProfAndStopsCleanly(t *testing.T) {
	cfg := writeFile(t, "gateway.yaml", okProviders+"admin: {listen: 127.0.0.1:0, pprof: true}\n")
	g := startGateway(t, "-config", cfg, "-addr", "127.0.0.1:0")
	m := adminLine.FindStringSubmatch(g.stdout.String())
	require.NotNil(t, m, g.stdout.String())
	admin := m[1]
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	status := func(url string) int {
		resp, err := client.Get(url)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusOK, status(admin+"/debug/pprof/"))
	assert.Equal(t, http.StatusOK, status(admin+"/debug/pprof/goroutine?debug=1"))
	assert.Equal(t, http.StatusOK, status(admin+"/readyz"))
	assert.Equal(t, http.StatusOK, status(g.base+"/readyz"))
	assert.Equal(t, http.StatusNotFound, status(g.base+"/debug/pprof/"), "never on the main listener")
	tr.CloseIdleConnections()

	require.Equal(t, 0, g.stop(), g.stderr.String())
	_, err := net.Dial("tcp", admin[len("http://"):])
	assert.Error(t, err, "the admin listener is closed")
}

// An admin.listen the main job cannot listen on stops it at start, with
// status 1 and a message naming the key.
func TestRunRefusesAnAdminListenItCannotTake(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	cfg := writeFile(t, "gateway.yaml", okProviders+"admin: {listen: "+taken.Addr().String()+"}\n")
	stdout, stderr := newSyncBuffer(), newSyncBuffer()
	code := run(context.Background(), []string{"-config", cfg, "-addr", "127.0.0.1:0"}, stdout, stderr)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr.String(), "cannot listen on admin.listen")
	assert.NotContains(t, stdout.String(), "listening on", "it never served")
}

// Once the main job starts to shut down, /readyz on the admin listener
// answers 503 (shutting_down) while a stream in flight is still served to
// its end; the job then stops cleanly.
func TestRunShutdownDrainsReadinessWhileCallsFinish(t *testing.T) {
	cfg := writeFile(t, "gateway.yaml", `providers:
  - {name: a, type: sim, sim: {tokens_per_second: 40, completion_tokens: 40}}
admin: {listen: 127.0.0.1:0}
`)
	g := startGateway(t, "-config", cfg, "-addr", "127.0.0.1:0")
	m := adminAny.FindStringSubmatch(g.stdout.String())
	require.NotNil(t, m, g.stdout.String())
	admin := m[1]
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, _ := get(admin + "/readyz")
	require.Equal(t, http.StatusOK, code)

	resp, err := http.Post(g.base+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	sc := bufio.NewScanner(resp.Body)
	require.True(t, sc.Scan(), "the stream's first event") // the call is in flight

	stopped := make(chan int, 1)
	go func() { stopped <- g.stop() }()
	require.Eventually(t, func() bool {
		code, body := get(admin + "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "shutting_down")
	}, 10*time.Second, 5*time.Millisecond, "/readyz says the job is shutting down")
	last := ""
	for sc.Scan() {
		if sc.Text() != "" {
			last = sc.Text()
		}
	}
	assert.Equal(t, "data: [DONE]", last, "the stream in flight ends whole")
	assert.Equal(t, 0, <-stopped, g.stderr.String())
}
