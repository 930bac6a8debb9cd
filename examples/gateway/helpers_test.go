package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The whole-program tests' helpers; the config package's tests have their
// own (config/config_test.go).

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

const okProviders = `
providers:
  - name: a
    type: sim
`

// Tests run the main job many times: its default usage file goes to a
// temporary directory, not into the source tree.
func init() {
	usageFile = filepath.Join(os.TempDir(), fmt.Sprintf("llmgate-usage-test-%d.jsonl", os.Getpid()))
}
