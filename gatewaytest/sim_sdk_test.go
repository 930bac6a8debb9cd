package gatewaytest_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// maxChunks bounds the chunks a test reads from a stream: far more than
// any stream here sends.
const maxChunks = 1000

// simSDK returns an openai-go client whose calls go to s through the
// client-mode entry point.
func simSDK(s *gatewaytest.Sim) openai.Client {
	return openai.NewClient(
		option.WithHTTPClient(gateway.NewClient(s)),
		option.WithBaseURL("http://sim.invalid/v1/"),
		option.WithAPIKey("sk-test"),
		option.WithMaxRetries(0),
	)
}

// The Sim's JSON is what the official SDK expects, streamed or not.
func TestSimOpenAISDK(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Models: []string{"m1", "emb"}, CompletionTokens: 7})
	client := simSDK(s)
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:    "m1",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello there")},
	}

	t.Run("chat", func(t *testing.T) {
		c, err := client.Chat.Completions.New(ctx, params)
		require.NoError(t, err)
		require.Len(t, c.Choices, 1)
		assert.Equal(t, s.ReplyText(0), c.Choices[0].Message.Content)
		assert.Equal(t, "stop", c.Choices[0].FinishReason)
		assert.EqualValues(t, 7, c.Usage.CompletionTokens)
		assert.Positive(t, c.Usage.PromptTokens)
	})

	t.Run("stream", func(t *testing.T) {
		p := params
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: param.NewOpt(true)}
		stream := client.Chat.Completions.NewStreaming(ctx, p)
		defer stream.Close()
		var acc openai.ChatCompletionAccumulator
		for i := 0; i < maxChunks && stream.Next(); i++ {
			acc.AddChunk(stream.Current())
		}
		require.NoError(t, stream.Err())
		require.Len(t, acc.Choices, 1)
		assert.Equal(t, s.ReplyText(0), acc.Choices[0].Message.Content)
		assert.EqualValues(t, 7, acc.Usage.CompletionTokens)
	})

	t.Run("completion", func(t *testing.T) {
		c, err := client.Completions.New(ctx, openai.CompletionNewParams{
			Model:  "m1",
			Prompt: openai.CompletionNewParamsPromptUnion{OfString: param.NewOpt("Once")},
		})
		require.NoError(t, err)
		assert.Equal(t, s.ReplyText(0), c.Choices[0].Text)
	})

	t.Run("embeddings", func(t *testing.T) {
		e, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model: "emb",
			Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}},
		})
		require.NoError(t, err)
		require.Len(t, e.Data, 2)
		assert.Len(t, e.Data[1].Embedding, 8)
	})

	t.Run("models", func(t *testing.T) {
		page, err := client.Models.List(ctx)
		require.NoError(t, err)
		var ids []string
		for _, m := range page.Data {
			ids = append(ids, m.ID)
		}
		assert.Equal(t, []string{"m1", "emb"}, ids)
	})

	t.Run("not found", func(t *testing.T) {
		p := params
		p.Model = "nope"
		_, err := client.Chat.Completions.New(ctx, p)
		var apiErr *openai.Error
		require.True(t, errors.As(err, &apiErr), "%v", err)
		assert.Equal(t, http.StatusNotFound, apiErr.StatusCode)
		assert.Equal(t, "model_not_found", apiErr.Code)
		assert.Nil(t, gateway.ErrorFromResponse(apiErr.Response), "the Sim's refusal is not the gateway's own")
	})

	t.Run("cut stream", func(t *testing.T) {
		s.SetFaults(gatewaytest.Faults{CutRate: 1, CutAfter: 2})
		defer s.SetFaults(gatewaytest.Faults{})
		stream := client.Chat.Completions.NewStreaming(ctx, params)
		defer stream.Close()
		var text strings.Builder
		for i := 0; i < maxChunks && stream.Next(); i++ {
			if ch := stream.Current().Choices; len(ch) > 0 {
				text.WriteString(ch[0].Delta.Content)
			}
		}
		assert.Error(t, stream.Err(), "a cut stream is an error, never a clean end")
		assert.Equal(t, s.ReplyText(2), text.String())
	})
}
