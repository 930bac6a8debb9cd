package gatewaytest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
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

// simPrompt is the gateway's prompt estimate for body, which the Sim reports.
func simPrompt(t *testing.T, op gateway.Op, body string) int {
	t.Helper()
	c, err := gateway.ParseCall(op, []byte(body), gateway.Limits{})
	require.NoError(t, err)
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

// Through the client-mode entry point the Sim reads the Call from the
// context; called bare it parses the body. Both give the same answer.
func simEntries(s *gatewaytest.Sim) map[string]http.RoundTripper {
	return map[string]http.RoundTripper{"bare": s, "transport": gateway.NewTransport(s)}
}

func TestSimChatShape(t *testing.T) {
	s := gatewaytest.NewSim("sim", gatewaytest.SimConfig{})
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
			p := simPrompt(t, gateway.OpChat, simChatBody)
			assert.Equal(t, &simUsage{PromptTokens: p, CompletionTokens: 16, TotalTokens: p + 16}, c.Usage)
		})
	}
}

func TestSimReplyText(t *testing.T) {
	s := gatewaytest.NewSim("sim", gatewaytest.SimConfig{Reply: "a b\tc", CompletionTokens: 5})
	assert.Equal(t, "a b c a b", s.ReplyText(0))
	assert.Equal(t, "a b", s.ReplyText(2))
	assert.Equal(t, 5, s.ReplyTokens(9))
	assert.Equal(t, 2, s.ReplyTokens(2))

	d := gatewaytest.NewSim("sim", gatewaytest.SimConfig{})
	assert.Equal(t, 16, d.ReplyTokens(0))
	assert.Equal(t, gatewaytest.DefaultSimReply, d.ReplyText(0), "16 words")

	q := gatewaytest.NewSim("sim", gatewaytest.SimConfig{Reply: `say "hi" \ ünïcode`})
	_, body := simDo(t, q, http.MethodPost, "/v1/chat/completions", simChatBody)
	var c simCompletion
	require.NoError(t, json.Unmarshal(body, &c), string(body))
	assert.Equal(t, q.ReplyText(0), c.Choices[0].Message.Content)
}

func TestSimMaxTokensCutsReply(t *testing.T) {
	s := gatewaytest.NewSim("sim", gatewaytest.SimConfig{})
	body := `{"model":"m1","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
	_, b := simDo(t, gateway.NewTransport(s), http.MethodPost, "/v1/chat/completions", body)
	var c simCompletion
	require.NoError(t, json.Unmarshal(b, &c))
	assert.Equal(t, s.ReplyText(5), c.Choices[0].Message.Content)
	assert.Equal(t, "length", *c.Choices[0].FinishReason)
	assert.Equal(t, 5, c.Usage.CompletionTokens)
}

func TestSimCompletionShape(t *testing.T) {
	s := gatewaytest.NewSim("sim", gatewaytest.SimConfig{CompletionTokens: 4})
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
			p := simPrompt(t, gateway.OpCompletion, body)
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
	s := gatewaytest.NewSim("sim", gatewaytest.SimConfig{})
	rt := gateway.NewTransport(s)
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
	p := simPrompt(t, gateway.OpEmbedding, body)
	assert.Equal(t, p, e.Usage.PromptTokens)
	assert.Equal(t, p, e.Usage.TotalTokens)

	one := simEmbed(t, s, `{"model":"emb","input":"alpha","dimensions":3}`)
	require.Len(t, one.Data, 1)
	assert.Len(t, simVector(t, one.Data[0].Embedding), 3)

	b64 := simEmbed(t, s, `{"model":"emb","input":["alpha","beta","alpha"],"encoding_format":"base64"}`)
	require.Len(t, b64.Data, 3)
	assert.Equal(t, vecs[1], simVector(t, b64.Data[1].Embedding))

	tokens := simEmbed(t, s, `{"model":"emb","input":[1,2,3]}`)
	assert.Len(t, tokens.Data, 1, "an array of token ids is one input")
}

func TestSimModels(t *testing.T) {
	s := gatewaytest.NewSim("sim-a", gatewaytest.SimConfig{Models: []string{"m1", "m2"}})
	assert.Equal(t, []string{"m1", "m2"}, s.Models())
	resp, b := simDo(t, s, http.MethodGet, "/v1/models", "")
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

	anyModel := gatewaytest.NewSim("sim-b", gatewaytest.SimConfig{})
	assert.Nil(t, anyModel.Models())
	_, b = simDo(t, anyModel, http.MethodGet, "/v1/models", "")
	assert.JSONEq(t, `{"object":"list","data":[]}`, string(b))
}

func TestSimRefusals(t *testing.T) {
	s := gatewaytest.NewSim("sim", gatewaytest.SimConfig{Models: []string{"m1"}})
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"unserved model", http.MethodPost, "/v1/chat/completions", `{"model":"other","messages":[]}`, 404, "model_not_found"},
		{"unserved embedding model", http.MethodPost, "/v1/embeddings", `{"model":"other","input":"x"}`, 404, "model_not_found"},
		{"invalid JSON", http.MethodPost, "/v1/chat/completions", `{"model":`, 400, "invalid_request"},
		{"missing model", http.MethodPost, "/v1/chat/completions", `{"messages":[]}`, 400, "invalid_request"},
		{"empty body", http.MethodPost, "/v1/chat/completions", ``, 400, "invalid_request"},
		{"bad embedding format", http.MethodPost, "/v1/embeddings", `{"model":"m1","input":"x","encoding_format":"hex"}`, 400, "invalid_request"},
		{"unknown path", http.MethodPost, "/v1/images/generations", `{}`, 404, "unknown_url"},
		{"wrong method", http.MethodGet, "/v1/chat/completions", ``, 405, "method_not_allowed"},
		{"post models", http.MethodPost, "/v1/models", `{}`, 405, "method_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := simDo(t, s, tc.method, tc.path, tc.body)
			assert.Equal(t, tc.status, resp.StatusCode)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			var e simError
			require.NoError(t, json.Unmarshal(b, &e), string(b))
			assert.Equal(t, tc.code, e.Error.Code)
			assert.NotEmpty(t, e.Error.Type)
			assert.True(t, strings.HasPrefix(e.Error.Message, "provider: ") || strings.HasPrefix(e.Error.Message, "gateway: "), e.Error.Message)
		})
	}
}

// A router sends the target's model in a body derived from the Call's; the
// Sim must serve the model in the body, not the one the caller asked for.
func TestSimServesRenamedModel(t *testing.T) {
	s := gatewaytest.NewSim("sim", gatewaytest.SimConfig{Models: []string{"target-model"}})
	call, err := gateway.ParseCall(gateway.OpChat, []byte(simChatBody), gateway.Limits{})
	require.NoError(t, err)
	body, err := call.BodyForUpstream("target-model")
	require.NoError(t, err)
	req := simReq(gateway.WithCall(context.Background(), call), http.MethodPost, "/v1/chat/completions", string(body))
	resp, err := s.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var c simCompletion
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&c))
	assert.Equal(t, "target-model", c.Model)
	assert.Equal(t, call.PromptTokens, c.Usage.PromptTokens)
}

func TestSimStreamIsNotBufferedWhole(t *testing.T) {
	// A reader with a tiny buffer still gets every byte, in order.
	s := gatewaytest.NewSim("sim", gatewaytest.SimConfig{CompletionTokens: 50})
	resp, err := s.RoundTrip(simReq(context.Background(), http.MethodPost, "/v1/chat/completions", `{"model":"m","stream":true,"messages":[]}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out bytes.Buffer
	p := make([]byte, 7)
	for {
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
