package gatewaytest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

const simChatBody = `{"model":"m1","messages":[{"role":"user","content":"Hello there, simulator"}]}`

// simReq builds a request to path on a fake host.
func simReq(ctx context.Context, method, path, body string) *http.Request {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://sim.invalid"+path, r)
	if err != nil {
		panic(err)
	}
	return req
}

// bindCall returns req as a Provider behind the client-mode entry point
// receives it: carrying the gateway.Call parsed from its body and the
// attempt's gateway.Outbound. It sends req through gateway.NewClient to a
// RoundTripper that keeps the request it gets, so the Sim can then be called
// with it directly, with nothing between (no attempt boundary, no usage tap).
// A request the entry point refuses is an error.
func bindCall(req *http.Request) (*http.Request, error) {
	var got *http.Request
	keep := gateway.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
		got = r
		return &http.Response{StatusCode: http.StatusNoContent, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	})
	resp, err := gateway.NewClient(keep).Transport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if got == nil {
		return nil, fmt.Errorf("the entry point refused the request: %d (%v)", resp.StatusCode, gateway.ErrorFromResponse(resp))
	}
	return got, nil
}

// callReq is simReq bound to a Call (bindCall).
func callReq(t testing.TB, ctx context.Context, method, path, body string) *http.Request {
	t.Helper()
	req, err := bindCall(simReq(ctx, method, path, body))
	require.NoError(t, err)
	return req
}

// direct sends each request to s itself, bound to its Call (bindCall): what
// the Sim answers, as it answers it.
func direct(s *gatewaytest.Sim) http.RoundTripper {
	return gateway.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
		req, err := bindCall(r)
		if err != nil {
			return nil, err
		}
		return s.RoundTrip(req)
	})
}

// simDo sends one request through rt and reads the whole body.
func simDo(t *testing.T, rt http.RoundTripper, method, path, body string) (*http.Response, []byte) {
	t.Helper()
	resp, err := rt.RoundTrip(simReq(context.Background(), method, path, body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

// simPrompt is the gateway's prompt estimate for a body sent to path, which
// the Sim reports.
func simPrompt(t *testing.T, path, body string) int {
	t.Helper()
	c := gateway.CallFrom(callReq(t, context.Background(), http.MethodPost, path, body).Context())
	require.NotNil(t, c)
	return c.PromptTokens
}

type simUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type simCompletion struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		Delta struct {
			Role    *string `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		Text         *string `json:"text"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *simUsage `json:"usage"`
}

type simError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    string  `json:"code"`
	} `json:"error"`
}

// The Sim called directly with a Call, and through the client-mode entry
// point (its attempt boundary and usage tap), give the same answer.
func simEntries(s *gatewaytest.Sim) map[string]http.RoundTripper {
	return map[string]http.RoundTripper{"bare": direct(s), "transport": gateway.NewClient(s).Transport}
}

func TestSimChatShape(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	for name, rt := range simEntries(s) {
		t.Run(name, func(t *testing.T) {
			resp, body := simDo(t, rt, http.MethodPost, "/v1/chat/completions", simChatBody)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))

			var raw map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(body, &raw))
			for _, k := range []string{"id", "object", "created", "model", "choices", "usage"} {
				assert.Contains(t, raw, k)
			}
			var c simCompletion
			require.NoError(t, json.Unmarshal(body, &c))
			assert.True(t, strings.HasPrefix(c.ID, "chatcmpl-"), c.ID)
			assert.Equal(t, "chat.completion", c.Object)
			assert.NotZero(t, c.Created)
			assert.Equal(t, "m1", c.Model)
			require.Len(t, c.Choices, 1)
			assert.Equal(t, 0, c.Choices[0].Index)
			assert.Equal(t, "assistant", c.Choices[0].Message.Role)
			assert.Equal(t, s.ReplyText(0), c.Choices[0].Message.Content)
			require.NotNil(t, c.Choices[0].FinishReason)
			assert.Equal(t, "stop", *c.Choices[0].FinishReason)
			p := simPrompt(t, "/v1/chat/completions", simChatBody)
			assert.Equal(t, &simUsage{PromptTokens: p, CompletionTokens: 16, TotalTokens: p + 16}, c.Usage)
		})
	}
}

func TestSimReplyText(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Reply: "a b\tc", CompletionTokens: 5})
	assert.Equal(t, "a b c a b", s.ReplyText(0))
	assert.Equal(t, "a b", s.ReplyText(2))
	assert.Equal(t, 5, s.ReplyTokens(9))
	assert.Equal(t, 2, s.ReplyTokens(2))

	d := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	assert.Equal(t, 16, d.ReplyTokens(0))
	assert.Equal(t, gatewaytest.DefaultSimReply, d.ReplyText(0), "16 words")

	q := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Reply: `say "hi" \ ünïcode`})
	_, body := simDo(t, direct(q), http.MethodPost, "/v1/chat/completions", simChatBody)
	var c simCompletion
	require.NoError(t, json.Unmarshal(body, &c), string(body))
	assert.Equal(t, q.ReplyText(0), c.Choices[0].Message.Content)
}

func TestSimMaxTokensCutsReply(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	body := `{"model":"m1","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
	_, b := simDo(t, gateway.NewClient(s).Transport, http.MethodPost, "/v1/chat/completions", body)
	var c simCompletion
	require.NoError(t, json.Unmarshal(b, &c))
	assert.Equal(t, s.ReplyText(5), c.Choices[0].Message.Content)
	assert.Equal(t, "length", *c.Choices[0].FinishReason)
	assert.Equal(t, 5, c.Usage.CompletionTokens)
}

func TestSimCompletionShape(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 4})
	body := `{"model":"m1","prompt":"Once upon a time"}`
	for name, rt := range simEntries(s) {
		t.Run(name, func(t *testing.T) {
			resp, b := simDo(t, rt, http.MethodPost, "/v1/completions", body)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
			var c simCompletion
			require.NoError(t, json.Unmarshal(b, &c))
			assert.True(t, strings.HasPrefix(c.ID, "cmpl-"), c.ID)
			assert.Equal(t, "text_completion", c.Object)
			require.Len(t, c.Choices, 1)
			require.NotNil(t, c.Choices[0].Text)
			assert.Equal(t, s.ReplyText(0), *c.Choices[0].Text)
			assert.Equal(t, "stop", *c.Choices[0].FinishReason)
			p := simPrompt(t, "/v1/completions", body)
			assert.Equal(t, &simUsage{PromptTokens: p, CompletionTokens: 4, TotalTokens: p + 4}, c.Usage)
		})
	}
}

type simEmbeddings struct {
	Object string `json:"object"`
	Data   []struct {
		Object    string          `json:"object"`
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
	Model string `json:"model"`
	Usage struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

func simEmbed(t *testing.T, rt http.RoundTripper, body string) simEmbeddings {
	t.Helper()
	resp, b := simDo(t, rt, http.MethodPost, "/v1/embeddings", body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	var e simEmbeddings
	require.NoError(t, json.Unmarshal(b, &e), string(b))
	return e
}

func simVector(t *testing.T, raw json.RawMessage) []float32 {
	t.Helper()
	var v []float32
	if raw[0] == '"' {
		var s string
		require.NoError(t, json.Unmarshal(raw, &s))
		b, err := base64.StdEncoding.DecodeString(s)
		require.NoError(t, err)
		for i := 0; i+4 <= len(b); i += 4 {
			v = append(v, math.Float32frombits(binary.LittleEndian.Uint32(b[i:])))
		}
		return v
	}
	require.NoError(t, json.Unmarshal(raw, &v))
	return v
}

func TestSimEmbeddings(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	rt := gateway.NewClient(s).Transport
	body := `{"model":"emb","input":["alpha","beta","alpha"]}`
	e := simEmbed(t, rt, body)
	assert.Equal(t, "list", e.Object)
	assert.Equal(t, "emb", e.Model)
	require.Len(t, e.Data, 3)
	var vecs [][]float32
	for i, d := range e.Data {
		assert.Equal(t, "embedding", d.Object)
		assert.Equal(t, i, d.Index)
		v := simVector(t, d.Embedding)
		require.Len(t, v, 8)
		var norm float64
		for _, x := range v {
			norm += float64(x) * float64(x)
		}
		assert.InDelta(t, 1, norm, 1e-4)
		vecs = append(vecs, v)
	}
	assert.Equal(t, vecs[0], vecs[2], "equal inputs, equal vectors")
	assert.NotEqual(t, vecs[0], vecs[1])
	p := simPrompt(t, "/v1/embeddings", body)
	assert.Equal(t, p, e.Usage.PromptTokens)
	assert.Equal(t, p, e.Usage.TotalTokens)

	one := simEmbed(t, direct(s), `{"model":"emb","input":"alpha","dimensions":3}`)
	require.Len(t, one.Data, 1)
	assert.Len(t, simVector(t, one.Data[0].Embedding), 3)

	b64 := simEmbed(t, direct(s), `{"model":"emb","input":["alpha","beta","alpha"],"encoding_format":"base64"}`)
	require.Len(t, b64.Data, 3)
	assert.Equal(t, vecs[1], simVector(t, b64.Data[1].Embedding))

	tokens := simEmbed(t, direct(s), `{"model":"emb","input":[1,2,3]}`)
	assert.Len(t, tokens.Data, 1, "an array of token ids is one input")
}

func TestSimModels(t *testing.T) {
	s := gatewaytest.MustNewSim("sim-a", gatewaytest.SimConfig{Models: []string{"m1", "m2"}})
	assert.Equal(t, []string{"m1", "m2"}, s.Models())
	resp, b := simDo(t, direct(s), http.MethodGet, "/v1/models", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var list struct {
		Object string `json:"object"`
		Data   []struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			Created int64  `json:"created"`
			OwnedBy string `json:"owned_by"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(b, &list))
	assert.Equal(t, "list", list.Object)
	require.Len(t, list.Data, 2)
	assert.Equal(t, "m1", list.Data[0].ID)
	assert.Equal(t, "model", list.Data[0].Object)
	assert.Equal(t, "sim-a", list.Data[0].OwnedBy)
	assert.NotZero(t, list.Data[0].Created)

	anyModel := gatewaytest.MustNewSim("sim-b", gatewaytest.SimConfig{})
	assert.Nil(t, anyModel.Models())
	_, b = simDo(t, direct(anyModel), http.MethodGet, "/v1/models", "")
	assert.JSONEq(t, `{"object":"list","data":[]}`, string(b))
}

// The Sim refuses what it does not serve; the entry point refuses a request
// that is not one before the Sim sees it (a bad body, an unknown path, a
// wrong method), with the gateway's own error (gateway.ErrorFromResponse).
func TestSimRefusals(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Models: []string{"m1"}})
	h := gateway.NewHandler(s)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code                     string
		entry                    *gateway.Error // the entry point's refusal; nil for the Sim's
	}{
		{"unserved model", http.MethodPost, "/v1/chat/completions", `{"model":"other","messages":[]}`, 404, "model_not_found", nil},
		{"unserved embedding model", http.MethodPost, "/v1/embeddings", `{"model":"other","input":"x"}`, 404, "model_not_found", nil},
		{"bad embedding format", http.MethodPost, "/v1/embeddings", `{"model":"m1","input":"x","encoding_format":"hex"}`, 400, "invalid_request", nil},
		{"invalid JSON", http.MethodPost, "/v1/chat/completions", `{"model":`, 400, "invalid_request", gateway.ErrBadRequest},
		{"missing model", http.MethodPost, "/v1/chat/completions", `{"messages":[]}`, 400, "invalid_request", gateway.ErrBadRequest},
		{"empty body", http.MethodPost, "/v1/chat/completions", ``, 400, "invalid_request", gateway.ErrBadRequest},
		{"unknown path", http.MethodPost, "/v1/images/generations", `{}`, 404, "unknown_url", gateway.ErrNotFound},
		{"wrong method", http.MethodGet, "/v1/chat/completions", ``, 405, "method_not_allowed", gateway.ErrMethodNotAllowed},
		{"post models", http.MethodPost, "/v1/models", `{}`, 405, "method_not_allowed", gateway.ErrMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := func(resp *http.Response, b []byte) {
				t.Helper()
				assert.Equal(t, tc.status, resp.StatusCode)
				assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
				var e simError
				require.NoError(t, json.Unmarshal(b, &e), string(b))
				assert.Equal(t, tc.code, e.Error.Code)
				assert.NotEmpty(t, e.Error.Type)
				prefix := "gatewaytest: "
				if tc.entry != nil {
					prefix = "gateway: "
				}
				assert.True(t, strings.HasPrefix(e.Error.Message, prefix), e.Error.Message)
				if tc.entry != nil {
					assert.ErrorIs(t, gateway.ErrorFromResponse(resp), tc.entry)
				} else {
					assert.Nil(t, gateway.ErrorFromResponse(resp), "the Sim's refusal is not the gateway's")
				}
			}

			before := s.Requests()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, "http://sim.invalid"+tc.path, strings.NewReader(tc.body)))
			resp := rec.Result()
			check(resp, rec.Body.Bytes())
			if tc.status == http.StatusMethodNotAllowed {
				assert.Equal(t, map[string]string{http.MethodGet: http.MethodPost, http.MethodPost: http.MethodGet}[tc.method],
					resp.Header.Get("Allow"))
			}
			if tc.entry != nil {
				assert.Equal(t, before, s.Requests(), "the Sim never sees it")
				return
			}
			assert.Equal(t, before+1, s.Requests())
			check(simDo(t, direct(s), tc.method, tc.path, tc.body)) // the Sim's own answer
		})
	}
}

// In client mode an unknown path reaches the Sim (client mode routes by
// the path's suffix and leaves an unknown one to the Provider), which
// answers 404 unknown_url itself.
func TestSimUnknownOperation(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	for name, rt := range simEntries(s) {
		t.Run(name, func(t *testing.T) {
			resp, b := simDo(t, rt, http.MethodPost, "/v1/images/generations", `{}`)
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)
			var e simError
			require.NoError(t, json.Unmarshal(b, &e), string(b))
			assert.Equal(t, "unknown_url", e.Error.Code)
			assert.Equal(t, "gatewaytest: sim has no route POST /v1/images/generations", e.Error.Message)
			assert.Nil(t, gateway.ErrorFromResponse(resp))
		})
	}
}

// A request that did not come through an entry point carries no Call: the
// Sim refuses it with an error, and still closes its body.
func TestSimWithoutCallIsAnError(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	req := simReq(context.Background(), http.MethodPost, "/v1/chat/completions", "")
	tb := &trackedBody{Reader: strings.NewReader(simChatBody)}
	req.Body = tb
	resp, err := s.RoundTrip(req)
	assert.Nil(t, resp)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gateway.NewClient")
	assert.True(t, tb.closed, "request body closed")
}

// A router sends the target's model (gateway.WithModel) while the Call
// still names the one the caller asked for: the Sim serves the model sent.
func TestSimServesRenamedModel(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Models: []string{"target-model"}})
	req := callReq(t, context.Background(), http.MethodPost, "/v1/chat/completions", simChatBody)
	call := gateway.CallFrom(req.Context())
	require.Equal(t, "m1", call.Model)
	resp, err := s.RoundTrip(gateway.WithModel(req, "target-model"))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var c simCompletion
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&c))
	assert.Equal(t, "target-model", c.Model)
	assert.Equal(t, call.PromptTokens, c.Usage.PromptTokens)

	// Unrenamed, the Call's model is not served.
	resp, err = s.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestSimStreamIsNotBufferedWhole(t *testing.T) {
	// A reader with a tiny buffer still gets every byte, in order.
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{CompletionTokens: 50})
	resp, err := s.RoundTrip(callReq(t, context.Background(), http.MethodPost, "/v1/chat/completions", `{"model":"m","stream":true,"messages":[]}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out bytes.Buffer
	p := make([]byte, 7)
	for range 10000 { // far more reads than the stream needs
		n, err := resp.Body.Read(p)
		out.Write(p[:n])
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
	}
	assert.True(t, bytes.HasSuffix(out.Bytes(), []byte("data: [DONE]\n\n")))
	assert.Equal(t, 50, bytes.Count(out.Bytes(), []byte(`"delta":{"content"`)))
}
