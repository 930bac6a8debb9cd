package config

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Stop called while a call is still in flight (one the server's shutdown
// gave up on) waits for the call to end before the usage pipeline closes:
// the call's record is delivered, not refused by a closed pipeline.
func TestStopWaitsForACallInFlightToHandOverItsRecord(t *testing.T) {
	usage := filepath.Join(t.TempDir(), "usage.jsonl")
	upstream, arrived, release := gatedUpstream(t)
	g, srv := startedGateway(t, heldYAML(upstream), usage)
	defer g.Close()

	answered := make(chan int, 1)
	go func() {
		code, _ := post(t, &http.Client{Timeout: 30 * time.Second}, srv.URL)
		answered <- code
	}()
	<-arrived // the call is in flight, held upstream

	stopped := make(chan error, 1)
	go func() { stopped <- g.Stop(context.Background()) }()
	// Give a Stop that does not wait the time to close the pipeline; one
	// that waits is still waiting, whatever this time is.
	select {
	case err := <-stopped:
		stopped <- err
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	require.Equal(t, http.StatusOK, <-answered)
	require.NoError(t, <-stopped)
	srv.Close()

	data, err := os.ReadFile(usage)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"outcome":"ok"`, "the call's record is in the usage file")
	assert.Zero(t, g.billing.meter.Stats().EnqueueErrors, "no record was refused")
}

// A call that failed upstream is not left open: Stop has nothing to wait
// for once its caller has the error.
func TestStopIsNotHeldByAFailedCall(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // its port refuses connections
	y := `providers:
  - {name: up, type: openai, base_url: ` + down.URL + `/v1, models: [m]}
hedge: {disable: true}
retry: {max_attempts: 1}
`
	g, srv := startedGateway(t, y, filepath.Join(t.TempDir(), "usage.jsonl"))
	defer g.Close()
	code, body := post(t, &http.Client{Timeout: 30 * time.Second}, srv.URL)
	require.GreaterOrEqual(t, code, 500, body)
	require.Eventually(t, func() bool { return g.billing.meter.Stats().Open == 0 }, 10*time.Second, time.Millisecond)
	srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, g.billing.meter.Wait(ctx), "nothing open: no wait, even with no time")
	require.NoError(t, g.Stop(context.Background()))
	assert.Equal(t, int64(1), g.billing.meter.Stats().Records)
}

// A call that does not end (its upstream hangs) takes at most half of
// Stop's time: the pipeline still drains in the rest, and Close after that
// Stop does not wait for the call again.
func TestStopGivesACallThatDoesNotEndOnlyPartOfItsTime(t *testing.T) {
	upstream, arrived, release := gatedUpstream(t)
	g, srv := startedGateway(t, heldYAML(upstream), filepath.Join(t.TempDir(), "usage.jsonl"))
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		_, _ = post(t, &http.Client{Timeout: 30 * time.Second}, srv.URL)
	}()
	<-arrived
	defer func() { close(release); <-answered }()

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	require.NoError(t, g.Stop(ctx), "the pipeline drained in the time the call left it")

	closed := make(chan struct{})
	go func() { g.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second): // bounded: Close waiting out its own shutdown timeout is the failure
		t.Fatal("Close waited again for the call Stop gave up on")
	}
}

// startedGateway builds y with its usage records in usage, starts it and
// serves it; the caller stops and closes it (the test's subject). The
// server closes at the test's end.
func startedGateway(t *testing.T, y, usage string) (*Gateway, *httptest.Server) {
	t.Helper()
	f, err := Parse("t.yaml", []byte(y), env{}.lookup)
	require.NoError(t, err)
	g, err := Build(f, Options{UsageFile: usage})
	require.NoError(t, err)
	require.NoError(t, g.Start(context.Background()))
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	return g, srv
}

// heldYAML is one provider at upstream, with no hedging: a held call stays
// one attempt.
func heldYAML(upstream string) string {
	return `providers:
  - {name: up, type: openai, base_url: ` + upstream + `, models: [m]}
hedge: {disable: true}
`
}
