package limiter

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

// sdkCalls makes n chat calls with the official SDK through a gateway server
// running h, and returns their statuses, a matcher for the last error's
// gateway sentinel, and the last error's response headers.
func sdkCalls(t *testing.T, h http.Handler, n int) ([]int, func(error) bool, http.Header) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c := openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey("k"), option.WithMaxRetries(0))
	var status []int
	var last *openai.Error
	for range n {
		_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model:    "gpt-4.1",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		})
		if err == nil {
			status = append(status, 200)
			continue
		}
		require.ErrorAs(t, err, &last)
		status = append(status, last.StatusCode)
	}
	require.NotNil(t, last, "no call was refused")
	is := func(kind error) bool { return errors.Is(gateway.ErrorFromResponse(last.Response), kind) }
	return status, is, last.Response.Header
}
