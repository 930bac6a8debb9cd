package config

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Regression: the health probes began in Build, so a gateway built only to
// be checked (the main job's -check, a program validating its file) could
// call its upstreams, with their keys, and started a loop per target. They
// begin at Start. (Were a probe to come before Start, the wait of ten
// intervals lets it: a stalled machine can only hide it.)
func TestHealthProbesBeginAtStart(t *testing.T) {
	var probes atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			probes.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"object":"list","data":[{"id":"m","object":"model"}]}`))
	}))
	defer up.Close()
	f, err := Parse("t.yaml", []byte(`providers:
  - {name: a, type: openai, base_url: `+up.URL+`/v1, api_key: sk-a, models: [m]}
health: {interval: 20ms}
`), env{}.lookup)
	require.NoError(t, err)
	g, err := Build(f, Options{UsageFile: t.TempDir() + "/usage.jsonl"})
	require.NoError(t, err)
	defer g.Close()

	time.Sleep(10 * 20 * time.Millisecond)
	assert.Zero(t, probes.Load(), "no probe before Start")

	require.NoError(t, g.Start(context.Background()))
	defer func() { _ = g.Stop(context.Background()) }()
	deadline := time.Now().Add(10 * time.Second) // a bound for a probe that never comes
	for probes.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	assert.Positive(t, probes.Load(), "probes from Start")
}
