package gateway_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
)

// GET /v1/models/{id} (openai-go's Models.Get) answers with that model's
// entry in the list the chain serves, and a model it does not serve with
// the OpenAI-shaped 404, in both modes; it used to be an unknown path.
func TestRetrieveAModel(t *testing.T) {
	a := gatewaytest.MustNewSim("a", gatewaytest.SimConfig{Models: []string{"gpt-4o-mini"}})
	b := gatewaytest.MustNewSim("b", gatewaytest.SimConfig{Models: []string{"org/model-with-slash"}})
	rt, err := router.New("r", []router.Target{{Provider: a, Weight: 1}, {Provider: b, Weight: 1}}, router.Config{})
	require.NoError(t, err)
	o := newObserved(t) // in server mode an answer reaches the caller before the call's end
	for mode, client := range sdkClients(t, rt, gateway.WithObserver(o.observe)) {
		t.Run(mode, func(t *testing.T) {
			for _, id := range []string{"gpt-4o-mini", "org/model-with-slash"} {
				m, err := client.Models.Get(context.Background(), id)
				require.NoError(t, err, id)
				assert.Equal(t, id, m.ID)
				assert.Equal(t, "model", string(m.Object))
				status, err := o.only().Result()
				assert.Equal(t, http.StatusOK, status)
				assert.NoError(t, err)
			}

			_, err := client.Models.Get(context.Background(), "gpt-unknown")
			var apiErr *openai.Error
			require.True(t, errors.As(err, &apiErr), "%v", err)
			assert.Equal(t, http.StatusNotFound, apiErr.StatusCode)
			assert.Equal(t, "model_not_found", apiErr.Code)
			assert.Contains(t, apiErr.Message, `"gpt-unknown"`)
			status, err := o.only().Result()
			assert.Equal(t, http.StatusNotFound, status)
			assert.ErrorIs(t, err, gateway.ErrModelNotFound)
		})
	}
}

// A list that is not the OpenAI shape is the upstream's failure, a 502;
// an upstream's error status is passed on as it came.
func TestRetrieveAModelFromABrokenList(t *testing.T) {
	for name, tt := range map[string]struct {
		status int
		body   string
		want   int
	}{
		"not JSON":       {200, "<html>oops</html>", http.StatusBadGateway},
		"no data":        {200, `{"object":"list"}`, http.StatusNotFound},
		"upstream error": {503, `{"error":{"message":"down","type":"server_error"}}`, http.StatusServiceUnavailable},
	} {
		p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
			return jsonReply(req, tt.status, tt.body), nil
		}}
		for mode, client := range sdkClients(t, p) {
			t.Run(name+"/"+mode, func(t *testing.T) {
				_, err := client.Models.Get(context.Background(), "m")
				var apiErr *openai.Error
				require.True(t, errors.As(err, &apiErr), "%v", err)
				assert.Equal(t, tt.want, apiErr.StatusCode)
				req, _, _ := p.seen()
				assert.Equal(t, "/v1/models", req.URL.Path, "the provider is asked for its list")
				assert.Equal(t, http.MethodGet, req.Method)
			})
		}
	}
}

// The retrieval's answer is the list's entry, byte for byte, with its own
// length.
func TestRetrieveAModelKeepsItsEntry(t *testing.T) {
	const entry = `{"id":"m","object":"model","created":1700000000,"owned_by":"someone","extra":{"a":[1,2]}}`
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		return jsonReply(req, 200, `{"object":"list","data":[{"id":"other","object":"model"},`+entry+`]}`), nil
	}}
	resp, err := gateway.NewClient(p).Get("http://gateway.invalid/v1/models/m")
	require.NoError(t, err)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, entry, strings.TrimSpace(string(got)))
	assert.EqualValues(t, len(got), resp.ContentLength)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
}
