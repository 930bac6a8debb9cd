package config

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/cache"
)

func TestMainJobResponseCacheServesARepeatedCallOnce(t *testing.T) {
	var upstream int
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstream++
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(completionBody)
	}))
	defer up.Close()
	for _, tt := range []struct {
		yaml     string
		upstream int
		status   string
	}{
		{"response_cache: {enable: true, ttl: 1m}", 1, cache.ResultHit},
		{"response_cache: {ttl: 1m}", 2, ""}, // keys checked, cache off
	} {
		upstream = 0
		cfg, err := Parse("t.yaml", []byte(`providers: [{name: up, type: openai, base_url: "`+up.URL+`/v1", api_key: sk-up}]
`+tt.yaml), env{}.lookup)
		require.NoError(t, err)
		a, err := Build(cfg, Options{})
		require.NoError(t, err)
		srv := httptest.NewServer(a.Handler())
		client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey("k"), option.WithMaxRetries(0))
		var resp *http.Response
		for range 2 {
			_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
				Model:       "gpt-4o-mini",
				Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
				Temperature: openai.Float(0),
			}, option.WithResponseInto(&resp))
			require.NoError(t, err)
		}
		srv.Close()
		a.Close()
		assert.Equal(t, tt.upstream, upstream, tt.yaml)
		assert.Equal(t, tt.status, resp.Header.Get(cache.HeaderCacheStatus), tt.yaml)
	}
}

func TestMainJobResponseCacheKeysAreChecked(t *testing.T) {
	err := checkConfig("response_cache: {ttl: 0s, max_bytes: -1, max_answer_bytes: 2048, max_answers: 0}\n", env{})
	require.Error(t, err)
	for _, key := range []string{"response_cache.ttl", "response_cache.max_bytes", "response_cache.max_answers"} {
		assert.ErrorContains(t, err, key)
	}
	err = checkConfig("response_cache: {max_bytes: 1024, max_answer_bytes: 2048}\n", env{})
	assert.ErrorContains(t, err, "response_cache: cache: ResponseConfig.MaxAnswerBytes 2048 is over MaxBytes 1024")
}
