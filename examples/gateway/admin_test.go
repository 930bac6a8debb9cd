package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var adminLine = regexp.MustCompile(`admin listener: (http://\S+) \(/healthz, /readyz, /debug/pprof/\)\n`)

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
