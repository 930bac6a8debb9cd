package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/billing"
	"github.com/llmgate/gateway/config"
)

// A 1 MB model name gets a short answer and a short log line: every value
// the main job logs is bounded, and the cut is marked.
func TestRunBoundsEveryLogLine(t *testing.T) {
	g := startGateway(t, "-addr", "127.0.0.1:0")
	model := strings.Repeat("m", 1<<20)
	req, err := http.NewRequest(http.MethodPost, g.base+"/v1/chat/completions",
		strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+g.key)
	resp, err := http.DefaultClient.Do(req)
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

// The embedding models an SDK user tries first are served by the embedded
// default, and listed with the chat models.
func TestRunEmbeddedDefaultServesEmbeddings(t *testing.T) {
	g := startGateway(t, "-addr", "127.0.0.1:0")
	client := sdk(t, g.base, g.key)
	ctx := context.Background()
	for _, model := range embeddingModels {
		e, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model: model,
			Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"hello", "world"}},
		})
		require.NoError(t, err, model)
		require.Len(t, e.Data, 2, model)
		assert.NotEmpty(t, e.Data[0].Embedding, model)
		assert.Equal(t, model, e.Model)
	}
	page, err := client.Models.List(ctx)
	require.NoError(t, err)
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	assert.Subset(t, ids, embeddingModels)
	require.Equal(t, 0, g.stop())
}

// The embedding models of the embedded default.
var embeddingModels = []string{"text-embedding-3-large", "text-embedding-3-small", "text-embedding-ada-002"}

// Every answer that is not a success is an OpenAI-style error, and nothing
// redirects: http.ServeMux's path cleaning answered /v1/../v1/models and
// //v1/models with a 307 (a client that follows it resends a POST), and its
// own 404 and 405 were text/plain. A path is routed as sent: /v1%2fmodels
// is no alias of /v1/models.
func TestRunRoutesEveryPathWithoutRedirect(t *testing.T) {
	g := startGateway(t, "-addr", "127.0.0.1:0")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "/", 404, "unknown_url", ""},
		{"GET", "/nope", 404, "unknown_url", ""},
		{"GET", "/v1%2fmodels", 404, "unknown_url", ""},
		{"GET", "/v1/mod%65ls", 404, "unknown_url", ""},
		{"GET", "/v1/../v1/models", 404, "unknown_url", ""},
		{"GET", "//v1/models", 404, "unknown_url", ""},
		{"POST", "/v1/../v1/chat/completions", 404, "unknown_url", ""},
		{"POST", "/v1//chat/completions", 404, "unknown_url", ""},
		{"POST", "/healthz", 405, "method_not_allowed", "GET, HEAD"},
		{"DELETE", "/v1/models", 405, "method_not_allowed", "GET"},
		{"GET", "/healthz", 200, "", ""},
		{"HEAD", "/healthz", 200, "", ""},
		{"GET", "/v1/models", 200, "", ""},
		{"GET", "/v1/models/gpt%2D4o-mini", 200, "", ""}, // an id's escapes are read (an id may hold %2F)
		{"GET", "/v1/mod%65ls/gpt-4o-mini", 404, "unknown_url", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, g.base+tc.path, strings.NewReader(`{}`))
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+g.key)
			resp, err := client.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, tc.status, resp.StatusCode)
			assert.Empty(t, resp.Header.Get("Location"), "no redirect")
			if tc.status/100 == 2 {
				return
			}
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			assert.Equal(t, tc.allow, resp.Header.Get("Allow"))
			assert.Equal(t, tc.code, resp.Header.Get("X-Llmgate-Error"))
			var e struct {
				Error struct {
					Message, Type, Code string
					Param               *string
				}
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
			assert.Equal(t, tc.code, e.Error.Code)
			assert.Equal(t, "invalid_request_error", e.Error.Type)
			assert.NotEmpty(t, e.Error.Message)
		})
	}
	require.Equal(t, 0, g.stop())
}

// A stream still running when the shutdown timeout ends is not cut
// silently: it ends with a terminal error event (server_shutting_down) and
// no [DONE], and the call is logged with that error. The sim sends a token a
// second for 1,000 tokens: the stream is in flight until the shutdown ends
// it.
func TestRunShutdownEndsStreamsInFlightWithErrorEvent(t *testing.T) {
	dir := t.TempDir()
	records, spill := filepath.Join(dir, "usage.jsonl"), filepath.Join(dir, "wal")
	cfg := writeFile(t, "gateway.yaml", `
shutdown_timeout: 1ms
providers:
  - {name: slow, type: sim, models: [m], sim: {tokens_per_second: 1, completion_tokens: 1000}}
billing:
  spill_dir: `+spill+`
  sinks: {jsonl: {path: `+records+`}}
`)
	g := startGateway(t, "-config", cfg, "-addr", "127.0.0.1:0")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Post(g.base+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	r := bufio.NewReader(resp.Body)
	for range 2 { // the role chunk and the first token: the stream is in flight
		for {
			line, err := r.ReadString('\n')
			require.NoError(t, err)
			if line == "\n" {
				break
			}
		}
	}

	status := make(chan int, 1)
	go func() { status <- g.stop() }()
	rest, err := io.ReadAll(r)
	require.NoError(t, err, "the stream ends cleanly, with its error event")
	assert.Equal(t, `data: {"error":{"message":"gateway: the server is shutting down","type":"service_unavailable","param":null,"code":"server_shutting_down"}}`+"\n\n", string(rest))
	assert.Equal(t, 0, <-status)
	logs := g.stderr.String()
	assert.Contains(t, logs, "calls still in flight after the shutdown timeout")
	assert.Regexp(t, `status=200 .*error=server_shutting_down`, logs)
	assert.Contains(t, logs, "gateway: stopped")
	// The cut stream is billed: its record was made before the pipeline
	// closed, and is in the usage file or, its drain cut short by the same
	// 1 ms, in the write-ahead log for the next start.
	data, err := os.ReadFile(records)
	require.NoError(t, err)
	keys := map[recordKey]bool{}
	for _, k := range walKeys(t, spill, config.SinkJSONL)[config.SinkJSONL] {
		keys[k] = true
	}
	for _, line := range strings.Fields(string(data)) {
		var rec billing.Record
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		keys[recordKey{rec.CallID, rec.Attempt}] = true
	}
	assert.Len(t, keys, 1, "the stream's one attempt, in the file or the log")
}
