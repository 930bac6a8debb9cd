package provider_test

import (
	"net/http"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/provider"
)

// maxChunks bounds the chunks a test reads from a stream: far more than
// any stream here sends.
const maxChunks = 1000

// sdkClient is the official SDK over the provider in client mode: the SDK's
// base URL and key are placeholders the provider ignores.
func sdkClient(rt http.RoundTripper) openai.Client {
	return openai.NewClient(
		option.WithHTTPClient(gateway.NewClient(rt)),
		option.WithBaseURL("http://gateway.invalid/v1/"),
		option.WithAPIKey("caller-virtual-key"),
		option.WithMaxRetries(0),
	)
}

func TestOpenAI_OfficialSDK(t *testing.T) {
	up := newOAIUpstream(t, nil)
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: up.URL + "/v1", APIKey: upstreamKey,
		ModelMap: map[string]string{"gpt-4.1": "gpt-4.1-2025-04-14"}})
	client := sdkClient(p)
	params := openai.ChatCompletionNewParams{
		Model:    "gpt-4.1",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")},
	}

	t.Run("chat", func(t *testing.T) {
		res, err := client.Chat.Completions.New(t.Context(), params)
		require.NoError(t, err)
		require.Len(t, res.Choices, 1)
		assert.Equal(t, "Hello there", res.Choices[0].Message.Content)
		assert.Equal(t, "gpt-4.1-2025-04-14", res.Model)
		assert.EqualValues(t, 11, res.Usage.TotalTokens)
	})

	t.Run("chat stream", func(t *testing.T) {
		stream := client.Chat.Completions.NewStreaming(t.Context(), params)
		defer stream.Close()
		var acc openai.ChatCompletionAccumulator
		chunks := 0
		for i := 0; i < maxChunks && stream.Next(); i++ {
			chunk := stream.Current()
			acc.AddChunk(chunk)
			assert.NotEmpty(t, chunk.Choices, "the SDK sees no usage-only chunk it did not ask for")
			chunks++
		}
		require.NoError(t, stream.Err())
		assert.Equal(t, 4, chunks)
		require.Len(t, acc.Choices, 1)
		assert.Equal(t, "Hello there", acc.Choices[0].Message.Content)
	})

	t.Run("embeddings", func(t *testing.T) {
		res, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{
			Model: "text-embedding-3-small",
			Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")},
		})
		require.NoError(t, err)
		require.Len(t, res.Data, 1)
		assert.Equal(t, []float64{0.5, -0.25}, res.Data[0].Embedding)
	})

	t.Run("upstream error", func(t *testing.T) {
		bad := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: "http://" + closedAddr(t) + "/v1", APIKey: upstreamKey})
		badClient := sdkClient(bad)
		_, err := badClient.Chat.Completions.New(t.Context(), params)
		var apiErr *openai.Error
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, 502, apiErr.StatusCode)
		assert.ErrorIs(t, gateway.ErrorFromResponse(apiErr.Response), gateway.ErrUpstream, "the gateway's own refusal")
		assert.NotContains(t, err.Error(), upstreamKey)
	})

	for _, s := range up.Seen() {
		assert.Equal(t, "Bearer "+upstreamKey, s.Header.Get("Authorization"))
	}
	assert.Len(t, up.Seen(), 3)
}
