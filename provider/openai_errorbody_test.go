package provider_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/provider"
)

// upstreamFailure is an error answer as a real upstream sends it.
type upstreamFailure struct {
	name        string
	status      int
	contentType string
	body        string
	// What the caller gets: the message (exactly, or a part of it when
	// msgPart), the type and code, and what never reaches it.
	msg, typ, code, param string
	msgPart               bool
	never                 []string
}

// Real-looking error bodies of OpenAI, Azure OpenAI, Anthropic and
// OpenAI-compatible servers (vLLM, Ollama, a proxy).
var upstreamFailures = []upstreamFailure{
	{name: "OpenAI 401 invalid key", status: 401,
		body: `{"error":{"message":"Incorrect API key provided: sk-uppp****************************************ab1Z. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
		msg:  "upstream rejected the gateway's credentials", typ: "invalid_request_error", code: "invalid_api_key",
		never: []string{"sk-", "uppp", "****", "ab1Z"}},
	{name: "OpenAI 401 short masked key", status: 401,
		body: `{"error":{"message":"Incorrect API key provided: sk-uppp****. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
		msg:  "upstream rejected the gateway's credentials", typ: "invalid_request_error", code: "invalid_api_key",
		never: []string{"sk-uppp"}},
	{name: "OpenAI 403 project without model access", status: 403,
		body: "{\"error\":{\"message\":\"Project `proj_Q7aZc4r2LmN8xYw1TbVs3KdE` does not have access to model `gpt-4o`\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"model_not_found\"}}",
		msg:  "upstream denied the gateway's credentials access to this request", typ: "invalid_request_error", code: "model_not_found",
		never: []string{"proj_", "Q7aZc4r2"}},
	{name: "OpenAI 429 tokens per minute", status: 429,
		body: `{"error":{"message":"Rate limit reached for gpt-4o in organization org-4ZkqW9cH2xYbN7pLmTq1s3Rv on tokens per min (TPM): Limit 30000, Used 29841, Requested 1177. Please try again in 2.036s. Visit https://platform.openai.com/account/rate-limits to learn more.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}`,
		msg:  "Rate limit reached for gpt-4o in organization [REDACTED] on tokens per min (TPM): Limit 30000, Used 29841, Requested 1177. Please try again in 2.036s. Visit https://platform.openai.com/account/rate-limits to learn more.",
		typ:  "tokens", code: "rate_limit_exceeded", never: []string{"org-", "4ZkqW9cH"}},
	{name: "OpenAI 429 with project and user", status: 429,
		body: `{"error":{"message":"Rate limit reached for gpt-4o-mini in project proj_8sJd2kLq0PzXv5MnRt7YwAbC organization org-AbCdEf0123456789GhIjKlMn (user user-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2) on requests per min (RPM): Limit 500, Used 500, Requested 1.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`,
		msg:  "Rate limit reached for gpt-4o-mini in project [REDACTED] organization [REDACTED] (user [REDACTED]) on requests per min (RPM): Limit 500, Used 500, Requested 1.",
		typ:  "requests", code: "rate_limit_exceeded", never: []string{"proj_", "org-", "user-Z"}},
	{name: "OpenAI 429 quota", status: 429,
		body: `{"error":{"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`,
		msg:  "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
		typ:  "insufficient_quota", code: "insufficient_quota"},
	{name: "OpenAI 400 context length", status: 400,
		body: `{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130412 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`,
		msg:  "This model's maximum context length is 128000 tokens. However, your messages resulted in 130412 tokens. Please reduce the length of the messages.",
		typ:  "invalid_request_error", code: "context_length_exceeded", param: "messages"},
	{name: "OpenAI 500 with request id", status: 500,
		body: `{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}`,
		msg:  "The server had an error while processing your request. Sorry about that!", typ: "server_error"},
	{name: "account email", status: 403,
		body: `{"error":{"message":"The account owner jane.doe+ai@example.com has disabled API access for this key.","type":"invalid_request_error","code":"account_disabled"}}`,
		msg:  "upstream denied the gateway's credentials access to this request", typ: "invalid_request_error", code: "account_disabled",
		never: []string{"jane", "example.com"}},
	{name: "email in a 404", status: 404,
		body: `{"error":{"message":"The model gpt-x does not exist or jane.doe@example.com does not have access to it.","type":"invalid_request_error","code":"model_not_found"}}`,
		msg:  "The model gpt-x does not exist or [REDACTED] does not have access to it.", typ: "invalid_request_error", code: "model_not_found"},
	{name: "Azure 401", status: 401,
		body: `{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."}}`,
		msg:  "upstream rejected the gateway's credentials", typ: "authentication_error", code: "401"},
	{name: "Azure 429", status: 429,
		body: `{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 6 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."}}`,
		msg:  "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 6 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.",
		typ:  "rate_limit_error", code: "429"},
	{name: "Azure 429 with subscription", status: 429,
		body: `{"error":{"code":"RateLimitReached","message":"Rate limit of subscription 8f14e45f-ceea-467f-a2b1-6c3ad7e2b9f0 exceeded for deployment gpt-4o-prod."}}`,
		msg:  "Rate limit of subscription [REDACTED] exceeded for deployment gpt-4o-prod.", typ: "rate_limit_error", code: "RateLimitReached"},
	{name: "Azure content filter", status: 400,
		body: `{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":true,"severity":"high"}}}}}`,
		msg:  "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
		typ:  "invalid_request_error", code: "content_filter", param: "prompt", never: []string{"innererror"}},
	{name: "Anthropic 401", status: 401,
		body: `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}`,
		msg:  "upstream rejected the gateway's credentials", typ: "authentication_error", never: []string{"req_011"}},
	{name: "Anthropic 429", status: 429,
		body: `{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit for your organization (d6f1a2b3-4c5d-4e6f-8a9b-0c1d2e3f4a5b) of 40,000 input tokens per minute. For details, refer to: https://docs.anthropic.com/en/api/rate-limits."}}`,
		msg:  "This request would exceed the rate limit for your organization ([REDACTED]) of 40,000 input tokens per minute. For details, refer to: https://docs.anthropic.com/en/api/rate-limits.",
		typ:  "rate_limit_error", never: []string{"d6f1a2b3"}},
	{name: "Anthropic 529", status: 529,
		body: `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`,
		msg:  "Overloaded", typ: "overloaded_error"},
	{name: "vLLM", status: 400,
		body: `{"object":"error","message":"This model's maximum context length is 4096 tokens.","type":"BadRequestError","param":null,"code":400}`,
		msg:  "This model's maximum context length is 4096 tokens.", typ: "BadRequestError", code: "400"},
	{name: "Ollama", status: 404,
		body: `{"error":"model \"llama3\" not found, try pulling it first"}`,
		msg:  `model "llama3" not found, try pulling it first`, typ: "invalid_request_error"},
	{name: "an echo of the gateway's own key", status: 400,
		body: `{"error":{"message":"bad header Authorization: Bearer ` + upstreamKey + ` (tok-secret-abcdefgh)","type":"invalid_request_error","code":"bad_header"}}`,
		msg:  "bad header Authorization: Bearer", msgPart: true, typ: "invalid_request_error", code: "bad_header",
		never: []string{upstreamKey, "tok-secret"}},
	{name: "identifiers that are not plain", status: 400,
		body: `{"error":{"message":"no","type":"org-4ZkqW9cH2xYbN7pLmTq1s3Rv","param":"a b","code":"sk-proj-abcdefgh1234"}}`,
		msg:  "no", typ: "invalid_request_error", never: []string{"org-", "sk-", "a b"}},
	{name: "a proxy's HTML", status: 502, contentType: "text/html",
		body: `<html><body><h1>502 Bad Gateway</h1><p>upstream org-4ZkqW9cH2xYbN7pLmTq1s3Rv</p></body></html>`,
		msg:  "upstream answered 502 Bad Gateway", typ: "api_error", never: []string{"org-", "<html>"}},
	{name: "a body over the bound", status: 400,
		body: `{"error":{"message":"` + strings.Repeat("x", 70<<10) + `","type":"invalid_request_error"}}`,
		msg:  "upstream answered 400 Bad Request", typ: "invalid_request_error"},
}

type callerError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

// Regression (issue 8): an upstream's 401 "Incorrect API key provided:
// sk-uppp****" reached callers verbatim, and so would a 429's organisation
// id. The caller gets the status, the headers, the upstream's type and code
// where they are plain identifiers, and a message without key or account
// fragments.
func TestOpenAI_UpstreamErrorBodyHidesAccountDetails(t *testing.T) {
	for _, f := range upstreamFailures {
		t.Run(f.name, func(t *testing.T) {
			up := newOAIUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
				ct := f.contentType
				if ct == "" {
					ct = "application/json"
				}
				w.Header().Set("Content-Type", ct)
				w.Header().Set("Retry-After", "7")
				w.Header().Set("X-Request-Id", "req_abc")
				w.Header().Set("Openai-Organization", "user-zx9yw8vu7ts6rq5po4nm3lk2")
				w.Header().Set("Openai-Project", "proj_8sJd2kLq0PzXv5MnRt7YwAbC")
				w.WriteHeader(f.status)
				_, _ = w.Write([]byte(f.body))
			})
			p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: up.URL + "/v1", APIKey: upstreamKey,
				Headers: map[string]string{"X-Upstream-Token": "tok-secret-abcdefgh"}})

			resp, err := p.RoundTrip(withCall(t, newRequest(t, context.Background(), "/v1/chat/completions", strings.NewReader(chatBody))))
			require.NoError(t, err, "an upstream error is still a response, for the router and breaker to classify")
			body := readAll(t, resp.Body)
			require.NoError(t, resp.Body.Close())
			assert.Equal(t, f.status, resp.StatusCode)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			assert.Equal(t, int64(-1), resp.ContentLength, "rebuilt when first read: its length is not known before")
			assert.Equal(t, "7", resp.Header.Get("Retry-After"), "headers pass, for Retry and the breaker")
			assert.Equal(t, "req_abc", resp.Header.Get("X-Request-Id"))
			assert.Empty(t, resp.Header.Get("Openai-Organization"), "an account id in a header goes too")
			assert.Empty(t, resp.Header.Get("Openai-Project"))
			assert.Nil(t, gateway.ErrorFromResponse(resp), "the provider's answer, not the gateway's refusal")

			var got callerError
			require.NoError(t, json.Unmarshal([]byte(body), &got), body)
			if f.msgPart {
				assert.Contains(t, got.Error.Message, f.msg)
			} else {
				assert.Equal(t, f.msg, got.Error.Message)
			}
			assert.Equal(t, f.typ, got.Error.Type)
			if f.code == "" {
				assert.Nil(t, got.Error.Code)
			} else if assert.NotNil(t, got.Error.Code) {
				assert.Equal(t, f.code, *got.Error.Code)
			}
			if f.param == "" {
				assert.Nil(t, got.Error.Param)
			} else if assert.NotNil(t, got.Error.Param) {
				assert.Equal(t, f.param, *got.Error.Param)
			}
			for _, s := range f.never {
				assert.NotContains(t, body, s)
			}
			assert.Less(t, len(body), 2<<10, "bounded")
		})
	}
}

// The same through the SDK in client mode and through the handler in
// server mode.
func TestOpenAI_UpstreamCredentialErrorThroughBothModes(t *testing.T) {
	f := upstreamFailures[0]
	up := newOAIUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.status)
		_, _ = w.Write([]byte(f.body))
	})
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: up.URL + "/v1", APIKey: upstreamKey})

	client := sdkClient(p)
	_, err := client.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{
		Model:    "gpt-4.1",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")},
	})
	var apiErr *openai.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusUnauthorized, apiErr.StatusCode)
	assert.Equal(t, "invalid_api_key", apiErr.Code)
	assert.Equal(t, f.msg, apiErr.Message)
	assert.NotContains(t, apiErr.Error(), "sk-uppp")

	srv := httptest.NewServer(gateway.NewHandler(p))
	defer srv.Close()
	resp, err := srv.Client().Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(chatBody))
	require.NoError(t, err)
	body := readAll(t, resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, body, f.msg)
	assert.NotContains(t, body, "sk-uppp")
}

// VerbatimErrors passes the upstream's error answer on as it came.
func TestOpenAI_VerbatimErrorsPassTheUpstreamBody(t *testing.T) {
	f := upstreamFailures[3]
	up := newOAIUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Openai-Organization", "org-4ZkqW9cH2xYbN7pLmTq1s3Rv")
		w.WriteHeader(f.status)
		_, _ = w.Write([]byte(f.body))
	})
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: up.URL + "/v1", VerbatimErrors: true})
	resp, err := p.RoundTrip(withCall(t, newRequest(t, context.Background(), "/v1/chat/completions", strings.NewReader(chatBody))))
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, f.status, resp.StatusCode)
	assert.Equal(t, f.body, readAll(t, resp.Body))
	assert.Equal(t, "org-4ZkqW9cH2xYbN7pLmTq1s3Rv", resp.Header.Get("Openai-Organization"))
}

// Review finding: the error body was rebuilt inside RoundTrip, so an
// upstream that sent 503 headers and stalled its body held the attempt
// (and a router's fallback) until a timeout. RoundTrip returns at once; the
// body is rebuilt when it is read, and Close ends a stalled read.
func TestOpenAI_StalledErrorBodyDoesNotHoldRoundTrip(t *testing.T) {
	stall := make(chan struct{})
	up := newOAIUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.(http.Flusher).Flush()
		<-stall
	})
	defer close(stall)
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: up.URL + "/v1", APIKey: upstreamKey})
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := p.RoundTrip(withCall(t, newRequest(t, context.Background(), "/v1/chat/completions", strings.NewReader(chatBody))))
		assert.NoError(t, err)
		done <- resp
	}()
	var resp *http.Response
	select {
	case resp = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("RoundTrip waited for the stalled error body")
	}
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.NoError(t, resp.Body.Close(), "closing without reading does not wait either")
}
