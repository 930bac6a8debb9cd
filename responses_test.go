package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/router"
)

func responsesParams() responses.ResponseNewParams {
	return responses.ResponseNewParams{
		Model:           "gpt-4.1",
		Instructions:    openai.String("Be brief."),
		Input:           responses.ResponseNewParamsInputUnion{OfString: openai.String("Say something.")},
		MaxOutputTokens: openai.Int(12),
	}
}

// The Responses API goes through both entry points with its Call parsed
// (model, max_output_tokens, a prompt estimate from input and
// instructions) and its usage read from the response, streamed or not.
func TestOpenAISDKResponses(t *testing.T) {
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Models: []string{"gpt-4.1"}})
	rec := &callRecorder{}
	// A call's Result is final once it has ended, which in server mode is
	// after the caller has its answer: each subtest waits for its call's
	// observation.
	ended := make(chan *gateway.Call, 4)
	awaitEnd := func(t *testing.T) {
		t.Helper()
		select {
		case <-ended:
		case <-time.After(5 * time.Second):
			t.Fatal("the call was not observed")
		}
	}
	for mode, client := range sdkClients(t, gateway.Chain(sim, rec.middleware), gateway.WithObserver(func(c *gateway.Call) { ended <- c })) {
		t.Run(mode+"/whole", func(t *testing.T) {
			resp, err := client.Responses.New(context.Background(), responsesParams())
			require.NoError(t, err)
			awaitEnd(t)
			call := rec.last(t)
			assert.Equal(t, gateway.OpResponses, call.Op)
			assert.Equal(t, "gpt-4.1", call.Model)
			assert.Equal(t, 12, call.MaxTokens)
			assert.False(t, call.Stream)
			assert.Greater(t, call.PromptTokens, 4, "input and instructions are counted")
			assert.Equal(t, sim.ReplyText(12), resp.OutputText())
			assert.EqualValues(t, 12, resp.Usage.OutputTokens)
			u, ok := call.Usage()
			require.True(t, ok)
			assert.Equal(t, gateway.Usage{PromptTokens: call.PromptTokens, CompletionTokens: 12}, u)
			status, _ := call.Result()
			assert.Equal(t, 200, status)
		})
		t.Run(mode+"/stream", func(t *testing.T) {
			stream := client.Responses.NewStreaming(context.Background(), responsesParams())
			var text strings.Builder
			var completed *responses.Response
			for stream.Next() {
				ev := stream.Current()
				switch ev.Type {
				case "response.output_text.delta":
					text.WriteString(ev.Delta)
				case "response.completed", "response.incomplete":
					r := ev.Response
					completed = &r
				}
			}
			require.NoError(t, stream.Err())
			require.NoError(t, stream.Close())
			awaitEnd(t)
			require.NotNil(t, completed, "the caller gets response.completed and its usage: nothing is stripped")
			assert.Equal(t, sim.ReplyText(12), text.String())
			assert.EqualValues(t, 12, completed.Usage.OutputTokens)
			call := rec.last(t)
			assert.True(t, call.Stream)
			u, ok := call.Usage()
			require.True(t, ok)
			assert.Equal(t, gateway.Usage{PromptTokens: call.PromptTokens, CompletionTokens: 12}, u, "read from response.completed, not estimated")
		})
	}
	// The gateway asks no stream_options.include_usage of a Responses call:
	// the API reports usage always, and refuses that field.
	assert.Equal(t, int64(4), sim.Requests())
}

// A Responses stream that fails before its first output_text.delta moves
// to the next target with nothing sent; one cut after content ends in an
// error for the caller, never in a response.completed.
func TestResponsesStreamFailsOverBeforeContentOnly(t *testing.T) {
	broken := gatewaytest.MustNewSim("broken", gatewaytest.SimConfig{Seed: 1,
		Faults: gatewaytest.Faults{CutRate: 1, CutAfter: 0}})
	healthy := gatewaytest.MustNewSim("healthy", gatewaytest.SimConfig{})
	rt, err := router.New("r", []router.Target{
		{Provider: broken, Weight: 1, Tier: 0},
		{Provider: healthy, Weight: 1, Tier: 1},
	}, router.Config{})
	require.NoError(t, err)
	rec := &callRecorder{}
	for mode, client := range sdkClients(t, gateway.Chain(rt, rec.middleware)) {
		t.Run(mode, func(t *testing.T) {
			stream := client.Responses.NewStreaming(context.Background(), responsesParams())
			var text strings.Builder
			for stream.Next() {
				if ev := stream.Current(); ev.Type == "response.output_text.delta" {
					text.WriteString(ev.Delta)
				}
			}
			require.NoError(t, stream.Err())
			assert.Equal(t, healthy.ReplyText(12), text.String())
			atts := rec.last(t).Attempts()
			require.Len(t, atts, 2)
			assert.Equal(t, "broken", atts[0].Target)
			assert.Equal(t, "stream_failed_before_content", atts[0].Err)
			assert.Equal(t, "healthy", atts[1].Target)
		})
	}

	cut := gatewaytest.MustNewSim("cut", gatewaytest.SimConfig{Seed: 1,
		Faults: gatewaytest.Faults{CutRate: 1, CutAfter: 3}})
	for mode, client := range sdkClients(t, cut) {
		t.Run(mode+"/cut after content", func(t *testing.T) {
			stream := client.Responses.NewStreaming(context.Background(), responsesParams())
			deltas, completed := 0, false
			for stream.Next() {
				switch stream.Current().Type {
				case "response.output_text.delta":
					deltas++
				case "response.completed":
					completed = true
				}
			}
			assert.Error(t, stream.Err())
			assert.Equal(t, 3, deltas)
			assert.False(t, completed)
		})
	}
}

// The entry point adds stream_options.include_usage to chat streams only:
// the Responses API reports usage in every stream and rejects that field.
func TestResponsesStreamIsSentAsTheCallerWroteIt(t *testing.T) {
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	var sent []byte
	capture := func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			sent = gateway.OutboundFrom(req.Context()).Body
			return next.RoundTrip(req)
		})
	}
	client := gateway.NewClient(gateway.Chain(sim, capture))
	body := `{"model":"m","stream":true,"input":"hi"}`
	resp, err := client.Post("http://gateway.invalid/v1/responses", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, body, string(sent))
}

// The gateway's own refusals on the Responses path are OpenAI errors, and
// nothing is dispatched.
func TestResponsesRefusalsAreOpenAIErrors(t *testing.T) {
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	srv := httptest.NewServer(gateway.NewHandler(sim))
	defer srv.Close()
	for _, tt := range []struct {
		method, body string
		status       int
	}{
		{http.MethodPost, `{"model":1,"input":"hi"}`, 400},
		{http.MethodPost, `{"model":"m","max_output_tokens":-5}`, 400},
		{http.MethodPost, `{"model":"m","input":"hi"`, 400},
		{http.MethodGet, ``, 405},
	} {
		req, _ := http.NewRequest(tt.method, srv.URL+"/v1/responses", strings.NewReader(tt.body))
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		var e struct {
			Error struct{ Message, Type, Code string } `json:"error"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
		resp.Body.Close()
		assert.Equal(t, tt.status, resp.StatusCode, tt.body)
		assert.NotEmpty(t, e.Error.Message)
		assert.NotEmpty(t, resp.Header.Get("X-Llmgate-Error"))
	}
	assert.Zero(t, sim.Requests())
}

// A middleware's new body for a Responses stream is sent as written too:
// WithBody asks usage only of the streams that report it on request.
func TestResponsesWithBodyAddsNoStreamOptions(t *testing.T) {
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	var sent []byte
	edit := func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			req, err := gateway.WithBody(req, []byte(`{"model":"m","stream":true,"input":"edited"}`))
			if err != nil {
				return nil, err
			}
			sent = gateway.OutboundFrom(req.Context()).Body
			return next.RoundTrip(req)
		})
	}
	client := gateway.NewClient(gateway.Chain(sim, edit))
	resp, err := client.Post("http://gateway.invalid/v1/responses", "application/json", strings.NewReader(`{"model":"m","stream":true,"input":"hi"}`))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, `{"model":"m","stream":true,"input":"edited"}`, string(sent))
}
