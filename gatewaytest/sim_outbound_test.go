package gatewaytest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// mw adapts a function to a gateway.Middleware.
func mw(f func(next http.RoundTripper, r *http.Request) (*http.Response, error)) gateway.Middleware {
	return func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(r *http.Request) (*http.Response, error) { return f(next, r) })
	}
}

// renameTo is a middleware that sends model instead (gateway.WithModel).
func renameTo(model string) gateway.Middleware {
	return mw(func(next http.RoundTripper, r *http.Request) (*http.Response, error) {
		return next.RoundTrip(gateway.WithModel(r, model))
	})
}

// editBody is a middleware that sends edit(the Outbound body) instead
// (gateway.WithBody).
func editBody(edit func(string) string) gateway.Middleware {
	return mw(func(next http.RoundTripper, r *http.Request) (*http.Response, error) {
		out, err := gateway.WithBody(r, []byte(edit(string(gateway.OutboundFrom(r.Context()).Body))))
		if err != nil {
			return nil, err
		}
		return next.RoundTrip(out)
	})
}

// swapReqBody is a middleware that replaces req.Body behind the Outbound's
// back: a Provider that read req.Body would see body.
func swapReqBody(body string) gateway.Middleware {
	return mw(func(next http.RoundTripper, r *http.Request) (*http.Response, error) {
		cp := *r
		cp.Body = io.NopCloser(strings.NewReader(body))
		cp.ContentLength = int64(len(body))
		cp.GetBody = nil
		return next.RoundTrip(&cp)
	})
}

// keepCall is a middleware that stores the request's Call in *c.
func keepCall(c **gateway.Call) gateway.Middleware {
	return mw(func(next http.RoundTripper, r *http.Request) (*http.Response, error) {
		*c = gateway.CallFrom(r.Context())
		return next.RoundTrip(r)
	})
}

// The Sim answers what the attempt sends (gateway.OutboundFrom), never what
// req.Body holds: a middleware's WithModel or WithBody reaches it, a body
// swapped behind the Outbound's back does not.
func TestSimReadsTheOutbound(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Models: []string{"renamed", "edited"}, CompletionTokens: 3})
	swapped := swapReqBody(`{"model":"swapped","messages":[]}`)
	addParam := editBody(func(b string) string {
		return strings.Replace(b, `"model":"m1"`, `"model":"edited","temperature":0.5`, 1)
	})
	for _, tc := range []struct {
		name  string
		mws   []gateway.Middleware
		body  string
		model string
	}{
		{"WithModel", []gateway.Middleware{renameTo("renamed")}, simChatBody, "renamed"},
		{"WithModel stream", []gateway.Middleware{renameTo("renamed")}, simStreamBody, "renamed"},
		{"WithBody", []gateway.Middleware{addParam}, simChatBody, "edited"},
		{"WithBody stream", []gateway.Middleware{addParam}, simStreamBody, "edited"},
		{"WithModel, req.Body swapped", []gateway.Middleware{renameTo("renamed"), swapped}, simChatBody, "renamed"},
		{"WithBody, req.Body swapped", []gateway.Middleware{addParam, swapped}, simStreamBody, "edited"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var call *gateway.Call
			client := gateway.NewClient(gateway.Chain(s, append([]gateway.Middleware{keepCall(&call)}, tc.mws...)...))
			resp, err := client.Post("http://sim.invalid/v1/chat/completions", "application/json", strings.NewReader(tc.body))
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(b))

			var models []string
			if strings.Contains(tc.body, `"stream":true`) {
				evs, err := simEvents(t, strings.NewReader(string(b)))
				require.NoError(t, err)
				require.Len(t, evs, 6, "role, 3 content, finish, [DONE]")
				for _, ev := range evs[:5] {
					models = append(models, simChunk(t, ev).Model)
				}
			} else {
				var c simCompletion
				require.NoError(t, json.Unmarshal(b, &c), string(b))
				assert.Equal(t, s.ReplyText(0), c.Choices[0].Message.Content)
				models = append(models, c.Model)
			}
			for _, m := range models {
				assert.Equal(t, tc.model, m, "the Sim answers the model sent")
			}

			require.NotNil(t, call)
			assert.Equal(t, "m1", call.Model, "the Call keeps the model asked")
			atts := call.Attempts()
			require.Len(t, atts, 1)
			assert.Equal(t, tc.model, atts[0].Model, "the attempt records the model sent")
			_, served := call.Served()
			assert.Equal(t, tc.model, served)
		})
	}
}

// An embeddings call's inputs, format and dimensions are read from the
// Outbound body too.
func TestSimEmbeddingsReadTheOutbound(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	want := simEmbed(t, direct(s), `{"model":"emb","input":["beta"],"dimensions":4}`)
	require.Len(t, want.Data, 1)

	edit := editBody(func(b string) string {
		return strings.Replace(b, `"input":["alpha"]`, `"input":["beta"],"dimensions":4`, 1)
	})
	for name, mws := range map[string][]gateway.Middleware{
		"WithBody":                   {edit},
		"WithBody, req.Body swapped": {edit, swapReqBody(`{"model":"emb","input":["alpha"]}`)},
	} {
		t.Run(name, func(t *testing.T) {
			got := simEmbed(t, gateway.NewClient(gateway.Chain(s, mws...)).Transport, `{"model":"emb","input":["alpha"]}`)
			require.Len(t, got.Data, 1)
			assert.Equal(t, simVector(t, want.Data[0].Embedding), simVector(t, got.Data[0].Embedding))
		})
	}

	// A body swapped behind the Outbound's back is not what the Sim reads.
	alpha := simEmbed(t, direct(s), `{"model":"emb","input":["alpha"]}`)
	got := simEmbed(t, gateway.NewClient(gateway.Chain(s, swapReqBody(`{"model":"emb","input":["beta"],"dimensions":4}`))).Transport,
		`{"model":"emb","input":["alpha"]}`)
	assert.Equal(t, simVector(t, alpha.Data[0].Embedding), simVector(t, got.Data[0].Embedding))
}
