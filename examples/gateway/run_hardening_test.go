package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
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

// The embedding models an SDK user tries first are served by the embedded
// default, and listed with the chat models.
func TestRunEmbeddedDefaultServesEmbeddings(t *testing.T) {
	g := startGateway(t, "-addr", "127.0.0.1:0")
	client := sdk(t, g.base, "sk-caller")
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
