package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/gatewaytest"
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

// modelCalls are the requests up received but for the health checks'
// probes (GET of the model list), which an openai, anthropic or gemini
// provider is sent on its own schedule.
func modelCalls(up *gatewaytest.Server) []gatewaytest.RecordedRequest {
	var out []gatewaytest.RecordedRequest
	for _, r := range up.Requests() {
		if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/models") {
			continue
		}
		out = append(out, r)
	}
	return out
}
