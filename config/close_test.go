package config

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

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
	require.NoError(t, g.Start(context.Background())) // the probes run
	require.NoError(t, g.Stop(context.Background()))
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
		require.NoError(t, g.Start(context.Background())) // the probes run
		next, err := Parse("t.yaml", []byte(closeYAML(up, "sk-b")), env{}.lookup)
		require.NoError(t, err)
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := g.Reload(next); err != nil {
				assert.ErrorIs(t, err, ErrClosed, "round %d", i)
			}
		})
		require.NoError(t, g.Stop(context.Background()))
		g.Close()
		wg.Wait()
	}
}

// ReloadFrom and the watcher report a file they cannot read or parse
// without Reload: after Close they too return ErrClosed, and count, log
// and tell nothing.
func TestReloadFromAfterCloseIsRefused(t *testing.T) {
	up, _, _ := countingUpstream(t)
	f, err := Parse("t.yaml", []byte(closeYAML(up, "sk-a")), env{}.lookup)
	require.NoError(t, err)
	told := 0
	g, err := Build(f, Options{UsageFile: t.TempDir() + "/usage.jsonl", OnReload: func(error) { told++ }})
	require.NoError(t, err)
	g.Close()

	err = ReloadFrom(filepath.Join(t.TempDir(), "missing.yaml"), env{}.lookup, g)
	require.ErrorIs(t, err, ErrClosed)
	assert.Equal(t, ReloadStats{}, g.ReloadStats())
	assert.Zero(t, told)
}

// OnReload is told after Reload has let go of the gateway, so it may close
// it (a program that stops on a refused reload): before, Close waited for
// the Reload that was calling it, for ever.
func TestOnReloadMayCloseTheGateway(t *testing.T) {
	up, _, _ := countingUpstream(t)
	for name, next := range map[string]string{"applied": closeYAML(up, "sk-b"), "refused": closeYAML(up, "sk-b") + "retry: {max_attempts: -1}\n"} {
		t.Run(name, func(t *testing.T) {
			f, err := Parse("t.yaml", []byte(closeYAML(up, "sk-a")), env{}.lookup)
			require.NoError(t, err)
			var g *Gateway
			g, err = Build(f, Options{UsageFile: t.TempDir() + "/usage.jsonl", OnReload: func(error) { g.Close() }})
			require.NoError(t, err)
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = reloadWith(t, g, next)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second): // a bound for a hang, not a timing
				t.Fatal("Reload never returned: OnReload's Close waited for it")
			}
			assert.ErrorIs(t, reloadWith(t, g, next), ErrClosed)
		})
	}
}

// Start after Close is refused with ErrClosed and opens nothing: no usage
// pipeline (its write-ahead log directory is not created) and no probe
// loop (goleak). A second Start is refused too: it would open the same
// write-ahead log again.
func TestStartAfterCloseIsRefused(t *testing.T) {
	up, _, _ := countingUpstream(t)
	f, err := Parse("t.yaml", []byte(closeYAML(up, "sk-a")), env{}.lookup)
	require.NoError(t, err)
	usage := filepath.Join(t.TempDir(), "usage.jsonl")
	g, err := Build(f, Options{UsageFile: usage})
	require.NoError(t, err)
	g.Close()
	require.ErrorIs(t, g.Start(context.Background()), ErrClosed)
	assert.NoFileExists(t, usage)
	assert.NoDirExists(t, spillDirOf(usage))
	require.NoError(t, g.Stop(context.Background()), "nothing to stop")

	g, err = Build(f, Options{UsageFile: usage})
	require.NoError(t, err)
	defer g.Close()
	require.NoError(t, g.Start(context.Background()))
	require.ErrorIs(t, g.Start(context.Background()), ErrStarted)
	require.NoError(t, g.Stop(context.Background()))
}

// Start, Stop and Close may run at once (a signal handler closing the
// gateway while the program is still starting it): under -race this was a
// data race on the usage pipeline. Whichever comes first, nothing is left
// open (goleak) and a Start that lost to Close says so.
func TestStartWhileClosing(t *testing.T) {
	up, _, _ := countingUpstream(t)
	f, err := Parse("t.yaml", []byte(closeYAML(up, "sk-a")), env{}.lookup)
	require.NoError(t, err)
	for i := range 20 {
		g, err := Build(f, Options{UsageFile: filepath.Join(t.TempDir(), "usage.jsonl")})
		require.NoError(t, err)
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := g.Start(context.Background()); err != nil {
				assert.ErrorIs(t, err, ErrClosed, "round %d", i)
			}
		})
		wg.Go(func() { assert.NoError(t, g.Stop(context.Background()), "round %d", i) })
		wg.Go(g.Close)
		wg.Wait()
		g.Close()
	}
}
