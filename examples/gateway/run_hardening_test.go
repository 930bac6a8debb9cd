package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A 1 MB model name gets a short answer and a short log line: every value
// the main job logs is bounded, and the cut is marked.
func TestRunBoundsEveryLogLine(t *testing.T) {
	g := startGateway(t, "-addr", "127.0.0.1:0")
	model := strings.Repeat("m", 1<<20)
	resp, err := http.Post(g.base+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err)
	answer, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Less(t, len(answer), 1024, "the answer quotes a bounded part of the model")

	require.Equal(t, 0, g.stop())
	logs := g.stderr.String()
	require.True(t, strings.Contains(logs, "status=404"), "the call is logged")
	// Not assert.Contains: a failure would print the whole 1 MB.
	assert.True(t, strings.Contains(logs, `model="mmmm`), "the model is logged")
	assert.True(t, strings.Contains(logs, "mmmm…[+"), "its cut is marked")
	for line := range strings.SplitSeq(logs, "\n") {
		assert.Less(t, len(line), 4096, "a bounded line: %.200s…", line)
	}
}
