package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/provider"
	"github.com/llmgate/gateway/router"
)

// requireBadGateway returns err as the openai.Error it must be, a 502.
func requireBadGateway(t *testing.T, err error) *openai.Error {
	t.Helper()
	var apiErr *openai.Error
	require.True(t, errors.As(err, &apiErr), "%v", err)
	assert.Equal(t, http.StatusBadGateway, apiErr.StatusCode)
	return apiErr
}

// A 2xx answer to a model call that is not a stream must be JSON: an
// upstream that answers 200 with an HTML page (a proxy's or a portal's in
// front of it, a base_url that names a website), with nothing at all, or
// whose answer breaks at its start has failed, before anything
// reached the caller. The call moves to the next target; the target's
// breaker counts the failure; with no target left the caller gets the
// gateway's 502 saying what came, where it used to get the page as the
// model's answer, recorded as served.
func TestANonStreamAnswerThatIsNotJSONFailsBeforeTheCaller(t *testing.T) {
	cases := []struct {
		name    string
		answer  func(req *http.Request) *http.Response
		message string // what the caller's 502 says
	}{
		{"html", func(req *http.Request) *http.Response {
			return respond(req, 200, "text/html; charset=utf-8", io.NopCloser(strings.NewReader("<html>Sign in to continue</html>")))
		}, `not JSON (Content-Type "text/html; charset=utf-8")`},
		{"text", func(req *http.Request) *http.Response {
			return respond(req, 200, "text/plain", io.NopCloser(strings.NewReader("OK")))
		}, `not JSON (Content-Type "text/plain")`},
		{"empty", func(req *http.Request) *http.Response {
			return jsonReply(req, 200, "")
		}, "an empty body"},
		{"only whitespace", func(req *http.Request) *http.Response {
			return jsonReply(req, 200, " \r\n\t")
		}, "an empty body"},
		{"error object", func(req *http.Request) *http.Response {
			return jsonReply(req, 200, `{"error":{"message":"You exceeded your quota (org-Zx81kQ)","type":"insufficient_quota"}}`)
		}, "answered 200 with an error object, not an answer"},
		{"error string", func(req *http.Request) *http.Response {
			return jsonReply(req, 200, `{"error":"You exceeded your quota, org-Zx81kQ"}`)
		}, "answered 200 with an error object, not an answer"},
		{"vLLM's error object", func(req *http.Request) *http.Response {
			return jsonReply(req, 200, `{"object":"error","message":"You exceeded your quota, org-Zx81kQ","type":"insufficient_quota","code":429}`)
		}, "answered 200 with an error object, not an answer"},
		{"broken before its first byte", func(req *http.Request) *http.Response {
			return respond(req, 200, "application/json", io.NopCloser(errReader{io.ErrUnexpectedEOF}))
		}, "broke at its start"},
	}
	for _, tc := range cases {
		bad := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) { return tc.answer(req), nil }}
		healthy := gatewaytest.MustNewSim("healthy", gatewaytest.SimConfig{Models: []string{"gpt-4o-mini"}})
		rt, err := router.New("r", []router.Target{
			{Provider: bad, Weight: 1, Tier: 0},
			{Provider: healthy, Weight: 1, Tier: 1},
		}, router.Config{})
		require.NoError(t, err)
		rec := &callRecorder{}
		for mode, client := range sdkClients(t, gateway.Chain(rt, rec.middleware)) {
			t.Run(tc.name+"/"+mode+"/falls over", func(t *testing.T) {
				out, err := client.Chat.Completions.New(context.Background(), chatParams(false))
				require.NoError(t, err)
				require.NotEmpty(t, out.Choices, "the healthy target's answer")
				assert.Equal(t, healthy.ReplyText(12), out.Choices[0].Message.Content)
				atts := rec.last(t).Attempts()
				require.Len(t, atts, 2)
				assert.Equal(t, "fake", atts[0].Target)
				assert.Equal(t, "upstream_error", atts[0].Err)
				assert.Equal(t, "healthy", atts[1].Target)
			})
		}

		cb, err := breaker.NewCircuitBreaker("bad", breaker.Config{FailureThreshold: 2})
		require.NoError(t, err)
		rec = &callRecorder{}
		for mode, client := range sdkClients(t, gateway.Chain(bad, rec.middleware, cb.Middleware())) {
			t.Run(tc.name+"/"+mode+"/none left", func(t *testing.T) {
				_, err := client.Chat.Completions.New(context.Background(), chatParams(false))
				apiErr := requireBadGateway(t, err)
				assert.Equal(t, "upstream_error", apiErr.Code)
				assert.Contains(t, apiErr.Message, tc.message)
				assert.NotContains(t, apiErr.Message, "org-", "an upstream's words under a 2xx are not repeated")
				status, err := rec.last(t).Result()
				assert.Equal(t, http.StatusBadGateway, status)
				assert.True(t, errors.Is(err, gateway.ErrUpstream), "%v", err)
			})
		}
		assert.Equal(t, breaker.Open, cb.State(), "%s: two failures, one through each entry point, open the breaker", tc.name)
	}
}

// What the check reads is replayed: an answer that begins with whitespace,
// or with a byte-order mark, reaches the caller byte for byte, with its
// length; one whose first bytes are all whitespace past what the check
// reads is not judged, and passes.
func TestTheAnswerCheckLosesNoByte(t *testing.T) {
	for name, body := range map[string]string{
		"plain":                chatReply,
		"leading whitespace":   "\n\n  \t" + chatReply,
		"byte-order mark":      "\ufeff" + chatReply,
		"whitespace past peek": strings.Repeat(" ", 100) + chatReply,
		"tiny object":          "{}",
	} {
		t.Run(name, func(t *testing.T) {
			p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
				resp := jsonReply(req, 200, body)
				resp.ContentLength = int64(len(body))
				return resp, nil
			}}
			srv := httptest.NewServer(gateway.NewHandler(p))
			t.Cleanup(srv.Close)
			resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
				strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
			require.NoError(t, err)
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, body, string(got))
			assert.Equal(t, strconv.Itoa(len(body)), resp.Header.Get("Content-Length"))

			// Client mode hands the same bytes to its caller.
			c := gateway.NewClient(p)
			resp, err = c.Post("http://gateway.invalid/v1/chat/completions", "application/json",
				strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
			require.NoError(t, err)
			got, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			assert.Equal(t, body, string(got))
		})
	}
}

// Only model calls are checked: in client mode a path the gateway does not
// know (an audio file, a download) passes whatever it is, and a HEAD has no
// body to check.
func TestTheAnswerCheckLeavesOtherAnswersAlone(t *testing.T) {
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		if req.Method == http.MethodHead {
			return respond(req, 200, "application/json", http.NoBody), nil
		}
		return respond(req, 200, "audio/mpeg", io.NopCloser(strings.NewReader("ID3\x03binary"))), nil
	}}
	c := gateway.NewClient(p)
	resp, err := c.Post("http://gateway.invalid/v1/audio/speech", "application/json", strings.NewReader(`{"model":"tts-1","input":"hi"}`))
	require.NoError(t, err)
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "ID3\x03binary", string(got))

	resp, err = c.Head("http://gateway.invalid/v1/models")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// A model list answered with a page is no list either.
func TestAModelListThatIsNotJSONFails(t *testing.T) {
	p := &fakeProvider{handle: func(req *http.Request) (*http.Response, error) {
		return respond(req, 200, "text/html", io.NopCloser(strings.NewReader("<!doctype html><p>hello</p>"))), nil
	}}
	for mode, client := range sdkClients(t, p) {
		t.Run(mode, func(t *testing.T) {
			_, err := client.Models.List(context.Background())
			apiErr := requireBadGateway(t, err)
			assert.Contains(t, apiErr.Message, `not JSON (Content-Type "text/html")`)
		})
	}
}

// An upstream's 200 with Content-Length: 0 (net/http's client gives it
// http.NoBody) is as empty as one that ends at once, to a call that is a
// stream or not: it fails, where it passed as a served answer (an empty
// completion; a stream with no event).
func TestAnEmptyAnswerWithALengthOfZeroFails(t *testing.T) {
	for _, stream := range []bool{false, true} {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if stream {
				w.Header().Set("Content-Type", "text/event-stream")
			} else {
				w.Header().Set("Content-Type", "application/json")
			}
			w.WriteHeader(http.StatusOK) // and nothing: Content-Length: 0
		}))
		t.Cleanup(up.Close)
		p, err := provider.NewOpenAI(provider.OpenAIConfig{Name: "empty", BaseURL: up.URL + "/v1", APIKey: "k"})
		require.NoError(t, err)
		rec := &callRecorder{}
		for mode, client := range sdkClients(t, gateway.Chain(p, rec.middleware)) {
			t.Run(fmt.Sprintf("stream=%v/%s", stream, mode), func(t *testing.T) {
				var err error
				if stream {
					s := client.Chat.Completions.NewStreaming(context.Background(), chatParams(true))
					for s.Next() {
						t.Errorf("got a chunk: %+v", s.Current())
					}
					err = s.Err()
				} else {
					_, err = client.Chat.Completions.New(context.Background(), chatParams(false))
				}
				requireBadGateway(t, err)
				atts := rec.last(t).Attempts()
				require.Len(t, atts, 1)
				assert.NotEmpty(t, atts[0].Err, "the attempt failed")
			})
		}
	}
}
