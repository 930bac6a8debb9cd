package provider_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/internal/sse"
	"github.com/llmgate/gateway/provider"
)

// outboundRecorder is a middleware that edits the request it passes on with
// edit (nil: none) and records the Outbound it passes on.
type outboundRecorder struct {
	edit func(t testing.TB, r *http.Request) *http.Request

	t    testing.TB
	mu   sync.Mutex
	sent []gateway.Outbound
}

func (o *outboundRecorder) Middleware(next http.RoundTripper) http.RoundTripper {
	return gateway.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
		if o.edit != nil {
			r = o.edit(o.t, r)
		}
		o.mu.Lock()
		o.sent = append(o.sent, gateway.OutboundFrom(r.Context()))
		o.mu.Unlock()
		return next.RoundTrip(r)
	})
}

func (o *outboundRecorder) Last(t testing.TB) gateway.Outbound {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	require.NotEmpty(t, o.sent)
	return o.sent[len(o.sent)-1]
}

// swapReqBody is a middleware that replaces req.Body behind the Outbound's
// back: a Provider that read req.Body would send body.
func swapReqBody(body string) gateway.Middleware {
	return func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
			cp := *r
			cp.Body = io.NopCloser(strings.NewReader(body))
			cp.ContentLength, cp.GetBody = int64(len(body)), nil
			return next.RoundTrip(&cp)
		})
	}
}

// The adapter sends what the attempt's gateway.Outbound holds, never what
// req.Body holds: a middleware's WithModel (a router's rename) or WithBody (a
// parameter added) reaches the upstream exactly, then the provider's
// ModelMap renames the model where it stands, and a stream's body asks for
// usage because the entry point set it.
func TestOpenAI_SendsTheOutbound(t *testing.T) {
	srv, _ := simUpstream(t, gatewaytest.SimConfig{CompletionTokens: 2})
	modelMap := map[string]string{"gpt-4.1": "deploy-4.1", "renamed": "deploy-renamed"}
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: srv.BaseURL(), APIKey: upstreamKey, ModelMap: modelMap})

	rename := func(t testing.TB, r *http.Request) *http.Request {
		before := gateway.OutboundFrom(r.Context())
		out := gateway.WithModel(r, "renamed")
		after := gateway.OutboundFrom(out.Context())
		assert.Equal(t, "renamed", after.Model)
		assert.Equal(t, strings.Replace(string(before.Body), `"model":"gpt-4.1"`, `"model":"renamed"`, 1), string(after.Body),
			"WithModel renames the model where it stands and changes nothing else")
		return out
	}
	addParam := func(t testing.TB, r *http.Request) *http.Request {
		before := gateway.OutboundFrom(r.Context())
		edited := strings.Replace(string(before.Body), `"messages":`, `"temperature":0.25,"messages":`, 1)
		require.NotEqual(t, string(before.Body), edited)
		out, err := gateway.WithBody(r, []byte(edited))
		require.NoError(t, err)
		after := gateway.OutboundFrom(out.Context())
		assert.Equal(t, edited, string(after.Body), "the edited body is the Outbound")
		assert.Equal(t, "gpt-4.1", after.Model)
		return out
	}
	swapped := swapReqBody(`{"model":"swapped","messages":[]}`)

	for _, tc := range []struct {
		name    string
		edit    func(testing.TB, *http.Request) *http.Request
		swap    bool
		model   string // the Outbound's model
		upModel string // after ModelMap
	}{
		{"as asked", nil, false, "gpt-4.1", "deploy-4.1"},
		{"WithModel", rename, false, "renamed", "deploy-renamed"},
		{"WithBody", addParam, false, "gpt-4.1", "deploy-4.1"},
		{"as asked, req.Body swapped", nil, true, "gpt-4.1", "deploy-4.1"},
		{"WithModel, req.Body swapped", rename, true, "renamed", "deploy-renamed"},
		{"WithBody, req.Body swapped", addParam, true, "gpt-4.1", "deploy-4.1"},
	} {
		for _, stream := range []bool{false, true} {
			name := tc.name
			body := chatBody
			if stream {
				name, body = name+", stream", streamBody
			}
			t.Run(name, func(t *testing.T) {
				rec := &outboundRecorder{edit: tc.edit, t: t}
				mws := []gateway.Middleware{rec.Middleware}
				if tc.swap {
					mws = append(mws, swapped)
				}
				resp := oaiPost(t, gateway.NewClient(gateway.Chain(p, mws...)), "/v1/chat/completions", body)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				answer := readAll(t, resp.Body)

				sent := rec.Last(t)
				assert.Equal(t, tc.model, sent.Model)
				want := strings.Replace(string(sent.Body), `"model":"`+tc.model+`"`, `"model":"`+tc.upModel+`"`, 1)
				reqs := srv.Requests()
				require.NotEmpty(t, reqs)
				up := reqs[len(reqs)-1]
				assert.Equal(t, want, string(up.Body), "upstream gets the Outbound body, renamed by ModelMap in place")
				if tc.edit == nil && !stream {
					assert.Equal(t, strings.Replace(chatBody, `"gpt-4.1"`, `"deploy-4.1"`, 1), string(up.Body))
				}
				f := oaiFields(t, up.Body)
				assert.Equal(t, stream, f.Stream)
				if stream {
					require.NotNil(t, f.StreamOptions, "a stream asks for usage upstream")
					require.NotNil(t, f.StreamOptions.IncludeUsage)
					assert.True(t, *f.StreamOptions.IncludeUsage)
				} else {
					assert.Nil(t, f.StreamOptions)
				}
				if tc.edit != nil && strings.Contains(tc.name, "WithBody") {
					assert.Contains(t, string(up.Body), `"temperature":0.25`)
				}

				// The Sim upstream answers the model it was sent.
				assert.Equal(t, []string{tc.upModel}, answerModels(t, answer, stream))
			})
		}
	}
}

// answerModels returns the distinct models an answer names.
func answerModels(t *testing.T, answer string, stream bool) []string {
	t.Helper()
	var docs []string
	if stream {
		r := sse.NewReader(strings.NewReader(answer), 0)
		for range 1000 {
			ev, err := r.Next()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			if !ev.IsDone() {
				docs = append(docs, string(ev.Data))
			}
		}
	} else {
		docs = []string{answer}
	}
	var models []string
	for _, d := range docs {
		var m struct {
			Model string `json:"model"`
		}
		require.NoError(t, json.Unmarshal([]byte(d), &m), d)
		if len(models) == 0 || models[len(models)-1] != m.Model {
			models = append(models, m.Model)
		}
	}
	return models
}
