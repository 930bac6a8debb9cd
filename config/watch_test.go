package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// configMapDir lays out dir as a Kubernetes ConfigMap volume does:
// dir/gateway.yaml -> ..data/gateway.yaml, ..data -> ..v1, and ..v1 holds
// the file. It returns the path a gateway is pointed at.
func configMapDir(t *testing.T, dir, yaml string) string {
	t.Helper()
	writeConfigMapVersion(t, dir, "..v1", yaml)
	require.NoError(t, os.Symlink("..v1", filepath.Join(dir, "..data")))
	path := filepath.Join(dir, "gateway.yaml")
	require.NoError(t, os.Symlink(filepath.Join("..data", "gateway.yaml"), path))
	return path
}

func writeConfigMapVersion(t *testing.T, dir, version, yaml string) {
	t.Helper()
	require.NoError(t, os.Mkdir(filepath.Join(dir, version), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, version, "gateway.yaml"), []byte(yaml), 0o600))
}

// swapConfigMap updates the volume as the kubelet does: a new version
// directory, a ..data_tmp symlink to it renamed over ..data, the old
// version removed. No event in dir names gateway.yaml.
func swapConfigMap(t *testing.T, dir, from, to, yaml string) {
	t.Helper()
	writeConfigMapVersion(t, dir, to, yaml)
	require.NoError(t, os.Symlink(to, filepath.Join(dir, "..data_tmp")))
	require.NoError(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	require.NoError(t, os.RemoveAll(filepath.Join(dir, from)))
}

// watched is a gateway built from a file and watched: outcomes gets each
// reload's outcome (Options.OnReload), checks whether each look at the file
// reloaded.
type watched struct {
	g        *Gateway
	outcomes chan error
	checks   chan bool
}

func watchGateway(t *testing.T, path string) *watched {
	t.Helper()
	// Both larger than any test's count of bursts: the watcher never blocks.
	w := &watched{outcomes: make(chan error, 64), checks: make(chan bool, 64)}
	f, err := Load(path, env{}.lookup)
	require.NoError(t, err)
	w.g, err = Build(f, Options{UsageFile: filepath.Join(t.TempDir(), "usage.jsonl"), OnReload: func(err error) { w.outcomes <- err }})
	require.NoError(t, err)
	t.Cleanup(w.g.Close)
	fw, err := watch(path, env{}.lookup, w.g, func(reloaded bool) { w.checks <- reloaded })
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, fw.Close()) })
	return w
}

// nextCheck waits for the watcher's next look at the file; the bound is
// there only for a look that never comes.
func (w *watched) nextCheck(t *testing.T) (reloaded bool) {
	t.Helper()
	select {
	case reloaded = <-w.checks:
		return reloaded
	case <-time.After(10 * time.Second):
		t.Fatal("the watcher never looked at the file")
		return false
	}
}

// untilReload waits through looks that found the file unchanged (a burst
// the scheduler split in two) for the one that reloaded, and returns its
// outcome, which OnReload was told before the look ended.
func (w *watched) untilReload(t *testing.T) error {
	t.Helper()
	for range 16 {
		if w.nextCheck(t) {
			require.Len(t, w.outcomes, 1, "one look, one reload")
			return <-w.outcomes
		}
	}
	t.Fatal("16 looks at the file and no reload")
	return nil
}

// Regression: a ConfigMap update swaps the ..data symlink and never names
// gateway.yaml, so a watcher that waited for that name never reloaded. Each
// swap reloads exactly once, and the watch outlives the renames.
func TestWatchReloadsOnConfigMapSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	path := configMapDir(t, dir, reloadYAML(1, 1, "10", ""))
	w := watchGateway(t, path)
	require.Equal(t, []string{"a", "b"}, w.g.Targets())

	swapConfigMap(t, dir, "..v1", "..v2", reloadYAML(1, 1, "10", "    - {provider: c}\n"))
	require.NoError(t, w.untilReload(t))
	assert.Equal(t, []string{"a", "b", "c"}, w.g.Targets())

	swapConfigMap(t, dir, "..v2", "..v3", reloadYAML(2, 1, "10", ""))
	require.NoError(t, w.untilReload(t))
	assert.Equal(t, []string{"a", "b"}, w.g.Targets())
	assert.Equal(t, ReloadStats{Applied: 2}, w.g.ReloadStats(), "one reload a swap")
}

// Regression: another file written in the directory (the usage file, by
// default beside the configuration, at every batch) made the watcher read
// and hash the configuration each time. It is not looked at for them: the
// first look after them is the configuration's own change, which reloads.
// (Were the other files' writes to make a look, the pause after them lets
// it come first: a slow machine can only merge it into the next burst.)
func TestWatchIgnoresOtherFilesInTheDirectory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	require.NoError(t, os.WriteFile(path, []byte(reloadYAML(1, 1, "10", "")), 0o600))
	w := watchGateway(t, path)

	for range 3 {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "llmgate-usage.jsonl"), []byte("{}\n"), 0o600))
	}
	time.Sleep(3 * watchDebounce)
	assert.Empty(t, w.checks, "no look at the configuration for another file")
	assert.Equal(t, ReloadStats{}, w.g.ReloadStats())

	require.NoError(t, os.WriteFile(path, []byte(reloadYAML(1, 1, "10", "    - {provider: c}\n")), 0o600))
	assert.True(t, w.nextCheck(t), "the first look is the configuration's change")
	require.NoError(t, <-w.outcomes)
	assert.Equal(t, []string{"a", "b", "c"}, w.g.Targets())
}

// The events that make the watcher look: the file's own, or any while the
// file is a symlink (a ConfigMap's, or one to another file beside it).
func TestWatchConcerns(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prod.yaml"), []byte("{}\n"), 0o600))
	require.NoError(t, os.WriteFile(path, []byte("{}\n"), 0o600))
	c := &fileCheck{path: path, name: "gateway.yaml"}
	c.read()
	assert.True(t, c.concerns(path))
	assert.True(t, c.concerns(filepath.Join(dir, "Gateway.yaml")), "as a case-insensitive file system spells it")
	assert.False(t, c.concerns(filepath.Join(dir, "llmgate-usage.jsonl")))
	assert.False(t, c.concerns(filepath.Join(dir, "gateway.yaml.swp")))

	require.NoError(t, os.Remove(path))
	require.NoError(t, os.Symlink("prod.yaml", path))
	c.read()
	assert.True(t, c.concerns(filepath.Join(dir, "prod.yaml")), "the link's target")
	assert.True(t, c.concerns(filepath.Join(dir, "..data")))
}

// A file replaced by a symlink to another file beside it reloads when that
// other file changes: events name the target, not the file, and once the
// file is a link every event in the directory is looked at.
func TestWatchFollowsAFileReplacedByASymlink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	require.NoError(t, os.WriteFile(path, []byte(reloadYAML(1, 1, "10", "")), 0o600))
	w := watchGateway(t, path)

	prod := filepath.Join(dir, "prod.yaml")
	require.NoError(t, os.WriteFile(prod, []byte(reloadYAML(1, 1, "10", "    - {provider: c}\n")), 0o600))
	require.NoError(t, os.Symlink("prod.yaml", filepath.Join(dir, "next.yaml")))
	require.NoError(t, os.Rename(filepath.Join(dir, "next.yaml"), path)) // the link replaces the file
	require.NoError(t, w.untilReload(t))
	assert.Equal(t, []string{"a", "b", "c"}, w.g.Targets())

	require.NoError(t, os.WriteFile(prod, []byte(reloadYAML(1, 1, "10", "")), 0o600)) // names prod.yaml only
	require.NoError(t, w.untilReload(t))
	assert.Equal(t, []string{"a", "b"}, w.g.Targets())
}

// A file that cannot be read is refused once, not again at every change
// in its directory, and reloads when it comes back.
func TestWatchRefusesAnUnreadableFileOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	require.NoError(t, os.WriteFile(path, []byte(reloadYAML(1, 1, "10", "")), 0o600))
	w := watchGateway(t, path)

	require.NoError(t, os.Remove(path))
	assert.ErrorIs(t, w.untilReload(t), ErrReloadRefused)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o600))
	time.Sleep(3 * watchDebounce)
	assert.Empty(t, w.checks, "another file's change is no look")
	assert.Empty(t, w.outcomes, "still unreadable, already refused")

	require.NoError(t, os.WriteFile(path, []byte(reloadYAML(1, 1, "10", "    - {provider: c}\n")), 0o600))
	require.NoError(t, w.untilReload(t))
	assert.Equal(t, []string{"a", "b", "c"}, w.g.Targets())
	assert.Equal(t, ReloadStats{Applied: 1, Rejected: 1}, w.g.ReloadStats())
}

// A burst delays the look by watchDebounce after its last event, but never
// past watchMaxWait after its first, so a directory that is never quiet
// still gets its changes loaded.
func TestWatchDebounceDelay(t *testing.T) {
	first := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		since time.Duration
		want  time.Duration
	}{
		{0, watchDebounce},
		{watchMaxWait - watchDebounce, watchDebounce},
		{watchMaxWait - watchDebounce/2, watchDebounce / 2},
		{watchMaxWait, 0},
		{2 * watchMaxWait, 0},
	} {
		assert.Equal(t, tc.want, debounceDelay(first, first.Add(tc.since)), "%v into the burst", tc.since)
	}
}
