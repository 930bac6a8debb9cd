package main

import (
	"context"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The embedded default serves the Responses API too, whole and streamed,
// through the same router, retries and access log.
func TestRunEmbeddedDefaultServesResponses(t *testing.T) {
	g := startGateway(t, "-addr", "127.0.0.1:0")
	client := sdk(t, g.base, g.key)
	ctx := context.Background()
	params := responses.ResponseNewParams{Model: "gpt-4o-mini",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Hello!")}}

	r, err := client.Responses.New(ctx, params)
	require.NoError(t, err)
	assert.True(t, isSimReply(r.OutputText()), r.OutputText())
	assert.Positive(t, r.Usage.OutputTokens)

	stream := client.Responses.NewStreaming(ctx, params)
	var text strings.Builder
	completed := false
	for stream.Next() {
		switch ev := stream.Current(); ev.Type {
		case "response.output_text.delta":
			text.WriteString(ev.Delta)
		case "response.completed":
			completed = true
		}
	}
	require.NoError(t, stream.Err())
	require.NoError(t, stream.Close())
	assert.True(t, completed)
	assert.True(t, isSimReply(text.String()), text.String())

	require.Equal(t, 0, g.stop())
	assert.Contains(t, g.stderr.String(), "op=responses")
}
