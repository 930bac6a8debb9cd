package provider_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/provider"
)

func TestOpenAI_Azure(t *testing.T) {
	up := newOAIUpstream(t, nil)
	p := newTestOpenAI(t, provider.OpenAIConfig{
		Name:     "azure-east",
		BaseURL:  up.URL + "/",
		APIKey:   "azure-upstream-key",
		ModelMap: map[string]string{"gpt-4o": "gpt-4o-2024-08-06"},
		Azure: &provider.AzureConfig{
			APIVersion:  "2024-10-21",
			Deployments: map[string]string{"gpt-4.1": "prod-gpt41", "gpt-4o-2024-08-06": "prod-4o"},
		},
	})
	client := gateway.NewClient(p)

	for _, tc := range []struct{ path, body, wantURI, wantModel string }{
		{"/v1/chat/completions", chatBody, "/openai/deployments/prod-gpt41/chat/completions?api-version=2024-10-21", "gpt-4.1"},
		{"/v1/chat/completions", `{"model":"gpt-4o","messages":[]}`, "/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21", "gpt-4o-2024-08-06"},
		// Not in Deployments: the model is its own deployment.
		{"/v1/embeddings", `{"model":"text-embedding-3-small","input":"hi"}`, "/openai/deployments/text-embedding-3-small/embeddings?api-version=2024-10-21", "text-embedding-3-small"},
		{"/v1/completions", `{"model":"my dep","prompt":"hi"}`, "/openai/deployments/my%20dep/completions?api-version=2024-10-21", "my dep"},
		// The Responses API names the deployment in the body, not the path.
		{"/v1/responses", `{"model":"gpt-4.1","input":"hi"}`, "/openai/responses?api-version=2024-10-21", "prod-gpt41"},
		{"/v1/responses", `{"model":"o4-mini","input":"hi"}`, "/openai/responses?api-version=2024-10-21", "o4-mini"},
	} {
		resp := oaiPost(t, client, tc.path, tc.body)
		assert.Equal(t, http.StatusOK, resp.StatusCode, tc.body)
		seen := up.Last(t)
		assert.Equal(t, tc.wantURI, seen.RequestURI)
		q, err := url.ParseQuery(seen.RawQuery)
		require.NoError(t, err)
		assert.Equal(t, "2024-10-21", q.Get("api-version"))
		assert.Equal(t, []string{"azure-upstream-key"}, seen.Header.Values("Api-Key"))
		assert.Empty(t, seen.Header.Values("Authorization"), "Azure takes the key in api-key; the caller's Authorization stays behind")
		assert.Equal(t, tc.wantModel, oaiFields(t, seen.Body).Model)
	}

	require.NoError(t, p.HealthCheck(t.Context()))
	assert.Equal(t, "/openai/models?api-version=2024-10-21", up.Last(t).RequestURI)
}

func TestOpenAI_AzureModelCannotLeaveItsSegment(t *testing.T) {
	up := newOAIUpstream(t, nil)
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: up.URL, Azure: &provider.AzureConfig{APIVersion: "2024-10-21"}})
	client := gateway.NewClient(p)
	for _, model := range []string{"..", "../../admin", "a/b", "a?b=c", "a#b", `a\b`, "a%2Fb"} {
		resp := oaiPost(t, client, "/v1/chat/completions", `{"model":"`+model+`","messages":[]}`)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, model)
	}
	assert.Empty(t, up.Seen())
}
