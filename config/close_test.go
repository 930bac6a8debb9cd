package config

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// closeYAML is a gateway whose reloads build a provider and start a health
// check: what a reload after Close would leave running.
func closeYAML(upstream, key string) string {
	return `providers:
  - {name: a, type: openai, base_url: ` + upstream + `, api_key: ` + key + `, models: [m]}
health: {interval: 1h}
`
}

// A Reload after Close is refused with ErrClosed and starts nothing: no
// provider is built and no health check starts again (the package's goleak
// check finds a probe loop left behind).
func TestReloadAfterCloseIsRefused(t *testing.T) {
	up, _, _ := countingUpstream(t)
	f, err := Parse("t.yaml", []byte(closeYAML(up, "sk-a")), env{}.lookup)
	require.NoError(t, err)
	g, err := Build(f, Options{UsageFile: t.TempDir() + "/usage.jsonl"})
	require.NoError(t, err)
	g.Close()

	err = reloadWith(t, g, closeYAML(up, "sk-b"))
	require.ErrorIs(t, err, ErrClosed)
	assert.Equal(t, ReloadStats{}, g.ReloadStats(), "a closed gateway's refusal is no reload refused")
}

// Close and Reload may run at once (a library user's watcher still
// reloading as the program closes): under -race this is a data race on the
// providers unless Close waits for the reload in progress. Whichever comes
// first, nothing is left open.
func TestCloseWhileReloading(t *testing.T) {
	up, _, _ := countingUpstream(t)
	for i := range 20 {
		f, err := Parse("t.yaml", []byte(closeYAML(up, "sk-a")), env{}.lookup)
		require.NoError(t, err)
		g, err := Build(f, Options{UsageFile: t.TempDir() + "/usage.jsonl"})
		require.NoError(t, err)
		next, err := Parse("t.yaml", []byte(closeYAML(up, "sk-b")), env{}.lookup)
		require.NoError(t, err)
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := g.Reload(next); err != nil {
				assert.ErrorIs(t, err, ErrClosed, "round %d", i)
			}
		})
		g.Close()
		wg.Wait()
	}
}
