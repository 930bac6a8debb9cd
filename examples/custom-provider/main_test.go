package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/llmgate/gateway"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	_ gateway.Provider    = Echo{}
	_ gateway.ModelLister = Echo{}
)

// The official SDK, over a real socket, gets Echo's chat, stream, model list
// and errors as it would OpenAI's.
func TestEchoOpenAISDK(t *testing.T) {
	srv := httptest.NewServer(newMux())
	defer srv.Close()
	client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey("unused"),
		option.WithMaxRetries(0), option.WithHTTPClient(srv.Client()))
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model: "echo",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("Repeat after me."),
			openai.UserMessage("Hello there, echo!"),
		},
	}

	t.Run("chat", func(t *testing.T) {
		c, err := client.Chat.Completions.New(ctx, params)
		require.NoError(t, err)
		require.Len(t, c.Choices, 1)
		assert.Equal(t, "Hello there, echo!", c.Choices[0].Message.Content)
		assert.Equal(t, "stop", c.Choices[0].FinishReason)
		assert.EqualValues(t, 3, c.Usage.CompletionTokens)
		assert.Positive(t, c.Usage.PromptTokens)
	})

	t.Run("stream", func(t *testing.T) {
		p := params
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: param.NewOpt(true)}
		stream := client.Chat.Completions.NewStreaming(ctx, p)
		defer stream.Close()
		var acc openai.ChatCompletionAccumulator
		chunks := 0
		for stream.Next() {
			acc.AddChunk(stream.Current())
			chunks++
		}
		require.NoError(t, stream.Err())
		assert.Equal(t, "Hello there, echo!", acc.Choices[0].Message.Content)
		assert.EqualValues(t, 3, acc.Usage.CompletionTokens)
		assert.Equal(t, 5, chunks, "a chunk per word, the finish and the usage")
	})

	t.Run("stream without usage", func(t *testing.T) {
		stream := client.Chat.Completions.NewStreaming(ctx, params)
		defer stream.Close()
		for stream.Next() {
			assert.NotEmpty(t, stream.Current().Choices, "the entry point drops the usage chunk nobody asked for")
		}
		require.NoError(t, stream.Err())
	})

	t.Run("models", func(t *testing.T) {
		page, err := client.Models.List(ctx)
		require.NoError(t, err)
		require.Len(t, page.Data, 1)
		assert.Equal(t, "echo", page.Data[0].ID)
	})

	t.Run("bad request", func(t *testing.T) {
		_, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model: "echo",
			Input: openai.EmbeddingNewParamsInputUnion{OfString: param.NewOpt("hi")},
		})
		var apiErr *openai.Error
		require.True(t, errors.As(err, &apiErr), "%v", err)
		assert.Equal(t, http.StatusBadRequest, apiErr.StatusCode)
		assert.Equal(t, "invalid_request", apiErr.Code)
	})
}

// Echo works in client mode too: any *http.Client user gets it in-process.
func ExampleEcho() {
	client := gateway.NewClient(Echo{})
	resp, err := client.Post("http://echo.invalid/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"echo","messages":[{"role":"user","content":"ping"}]}`))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var out struct {
		Choices []struct{ Message struct{ Content string } }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		panic(err)
	}
	fmt.Println(resp.StatusCode, out.Choices[0].Message.Content)
	// Output: 200 ping
}
