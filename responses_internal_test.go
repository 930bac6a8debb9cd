package gateway

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/internal/sse"
)

// Responses API events, as OpenAI sends them (trimmed).
const (
	respCreated   = `{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","status":"in_progress","usage":null}}`
	respItemAdded = `{"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"type":"message","id":"msg_1","content":[]}}`
	respDelta     = `{"type":"response.output_text.delta","sequence_number":2,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hello"}`
	respDone      = `{"type":"response.output_text.done","sequence_number":3,"item_id":"msg_1","output_index":0,"content_index":0,"text":"Hello"}`
	respCompleted = `{"type":"response.completed","sequence_number":4,"response":{"id":"resp_1","status":"completed","output":[{"type":"message","content":[{"type":"output_text","text":"Hello"}]}],` +
		`"usage":{"input_tokens":20,"input_tokens_details":{"cached_tokens":8},"output_tokens":30,"output_tokens_details":{"reasoning_tokens":12},"total_tokens":50}}}`
)

func respEvent(data string) string {
	typ := data[len(`{"type":"`):]
	typ = typ[:strings.IndexByte(typ, '"')]
	return "event: " + typ + "\ndata: " + data + "\n\n"
}

// The one content detector reads the Responses grammar: a non-empty delta
// is content, the end of the response is content (an empty answer is an
// answer), an error or response.failed is an error, and response.completed
// carries the usage under response.usage.
func TestInspectChunkReadsResponsesEvents(t *testing.T) {
	tests := []struct {
		name             string
		event            string
		content, isError bool
		usage            *Usage
	}{
		{"created", respCreated, false, false, nil},
		{"item added", respItemAdded, false, false, nil},
		{"text delta", respDelta, true, false, nil},
		{"empty delta", `{"type":"response.output_text.delta","delta":""}`, false, false, nil},
		{"delta before type", `{"delta":"x","type":"response.output_text.delta"}`, true, false, nil},
		{"arguments delta", `{"type":"response.function_call_arguments.delta","item_id":"fc_1","delta":"{\"a\""}`, true, false, nil},
		{"reasoning summary delta", `{"type":"response.reasoning_summary_text.delta","delta":"thinking"}`, true, false, nil},
		{"text done is not counted twice", respDone, false, false, nil},
		{"completed", respCompleted, true, false, &Usage{PromptTokens: 20, CachedTokens: 8, CompletionTokens: 30, ReasoningTokens: 12}},
		{"incomplete", `{"type":"response.incomplete","response":{"status":"incomplete","usage":{"input_tokens":3,"output_tokens":4}}}`, true, false, &Usage{PromptTokens: 3, CompletionTokens: 4}},
		{"error", `{"type":"error","code":"server_error","message":"boom","sequence_number":3}`, false, true, nil},
		{"failed", `{"type":"response.failed","response":{"status":"failed","error":{"code":"server_error","message":"boom"}}}`, false, true, nil},
		{"a chat chunk is unchanged", `{"choices":[{"index":0,"delta":{"content":"Hi"}}]}`, true, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, ok := inspectChunk([]byte(tt.event))
			require.True(t, ok)
			assert.Equal(t, tt.content, info.content, "content")
			assert.Equal(t, tt.isError, info.isError, "error")
			if tt.usage != nil {
				require.True(t, info.hasUsage)
				assert.Equal(t, *tt.usage, info.usage)
			} else {
				assert.False(t, info.hasUsage)
			}
		})
	}
}

// The usage tap reads a Responses stream's usage from response.completed and
// passes every event on: nothing is stripped, since the gateway asked for
// nothing the caller did not.
func TestTapResponsesStreamKeepsCompletedAndReadsItsUsage(t *testing.T) {
	c := testCall(t, `{"model":"m","input":"hello there"}`)
	c.Op, c.Stream = OpResponses, true
	stream := respEvent(respCreated) + respEvent(respItemAdded) + respEvent(respDelta) + respEvent(respDone) + respEvent(respCompleted)
	c.tap.init(c, io.NopCloser(strings.NewReader(stream)), 200, true, sse.DefaultMaxLine)
	out, err := io.ReadAll(&c.tap)
	require.NoError(t, err)
	assert.Equal(t, stream, string(out))
	u, ok := c.Usage()
	require.True(t, ok)
	assert.Equal(t, Usage{PromptTokens: 20, CachedTokens: 8, CompletionTokens: 30, ReasoningTokens: 12}, u)
}

// Without response.completed (a proxy that drops it), usage is estimated
// from the deltas delivered, never zero.
func TestTapResponsesStreamWithoutCompletedIsEstimated(t *testing.T) {
	c := testCall(t, `{"model":"m","input":"hello there"}`)
	c.Op, c.Stream = OpResponses, true
	stream := respEvent(respCreated) + respEvent(respDelta) + respEvent(respDelta)
	c.tap.init(c, io.NopCloser(strings.NewReader(stream)), 200, true, sse.DefaultMaxLine)
	_, err := io.ReadAll(&c.tap)
	require.NoError(t, err)
	u, _ := c.Usage()
	assert.True(t, u.Estimated)
	assert.Positive(t, u.CompletionTokens)
}

// The hold releases a Responses stream at its first delta, and fails one
// that reports an error or ends before any content.
func TestHoldReadsResponsesStreams(t *testing.T) {
	resp, _ := streamOf(strings.NewReader(respEvent(respCreated) + respEvent(respItemAdded) + respEvent(respDelta) + respEvent(respCompleted)))
	got, err := holdFirstContent(t.Context(), resp)
	require.NoError(t, err)
	got.Body.Close()
	for name, stream := range map[string]string{
		"error event":     respEvent(respCreated) + respEvent(`{"type":"error","code":"server_error","message":"boom"}`),
		"failed":          respEvent(respCreated) + respEvent(`{"type":"response.failed","response":{"error":{"code":"x"}}}`),
		"ends unfinished": respEvent(respCreated) + respEvent(respItemAdded),
	} {
		resp, body := streamOf(strings.NewReader(stream))
		_, err := holdFirstContent(t.Context(), resp)
		assert.ErrorIs(t, err, ErrUpstream, name)
		assert.EqualValues(t, 1, body.closes.Load(), name)
	}
}

func TestParseCallReadsResponsesFields(t *testing.T) {
	body := `{"model":"gpt-4.1","stream":true,"max_output_tokens":77,"instructions":"Be brief and kind to everyone.","input":[{"role":"user","content":"hi"},{"type":"function_call_output","call_id":"c","output":"42"}]}`
	p, err := parseCall(OpResponses, []byte(body), Limits{})
	require.NoError(t, err)
	assert.Equal(t, "gpt-4.1", p.Model)
	assert.True(t, p.Stream)
	assert.Equal(t, 77, p.MaxTokens)
	short, err := parseCall(OpResponses, []byte(`{"model":"gpt-4.1","input":[{"role":"user","content":"hi"},{"type":"function_call_output","call_id":"c","output":"42"}]}`), Limits{})
	require.NoError(t, err)
	assert.Greater(t, p.PromptTokens, short.PromptTokens, "instructions are counted")
	assert.Greater(t, short.PromptTokens, 2*tokensPerMessage, "input items count as messages")

	for name, bad := range map[string]string{
		"duplicate max_output_tokens": `{"model":"m","max_output_tokens":1,"max_output_tokens":99999}`,
		"case variant":                `{"model":"m","Max_Output_Tokens":5}`,
		"negative":                    `{"model":"m","max_output_tokens":-1}`,
		"duplicate instructions":      `{"model":"m","instructions":"a","instructions":"b"}`,
	} {
		_, err := parseCall(OpResponses, []byte(bad), Limits{})
		assert.ErrorIs(t, err, ErrBadRequest, name)
	}
	// Fields of the Responses API mean nothing to a chat call's parse.
	_, err = parseCall(OpChat, []byte(`{"model":"m","messages":[],"instructions":"a","instructions":"b","max_output_tokens":-1}`), Limits{})
	assert.NoError(t, err)
}

// Whatever parseCall accepts as a Responses call, every decoder an upstream
// may use reads the same model, stream and max_output_tokens: a caller can
// neither pass a limit on one max_output_tokens and be served another, nor
// be checked on one model and served another.
func FuzzParseResponsesAgreesWithDecoders(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","stream":true,"max_output_tokens":5,"input":"hi","instructions":"x"}`,
		`{"model":"m","max_output_tokens":1,"max_output_tokens":99999}`,
		`{"model":"m","Max_Output_Tokens":99999}`,
		`{"model":"m","max_output_tok\u0065ns":7}`,
		`{"model":"m","max_tokens":3,"input":[{"role":"user","content":"a"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseCall(OpResponses, b, Limits{})
		if err != nil {
			var ge *Error
			if !errors.As(err, &ge) || ge.Status != 400 {
				t.Fatalf("error is not a 400 gateway error: %v", err)
			}
			return
		}
		var gs struct {
			Model           string `json:"model"`
			Stream          bool   `json:"stream"`
			MaxOutputTokens *int   `json:"max_output_tokens"`
		}
		if err := json.Unmarshal(b, &gs); err != nil {
			t.Fatalf("accepted, but encoding/json refuses it: %v", err)
		}
		if gs.Model != c.Model || gs.Stream != c.Stream || gs.MaxOutputTokens != nil && *gs.MaxOutputTokens > c.MaxTokens {
			t.Fatalf("gateway read %q %v %d, encoding/json %+v\n%s", c.Model, c.Stream, c.MaxTokens, gs, b)
		}
		for _, first := range []bool{false, true} {
			m, _, err := exactKeys(b, first)
			if err != nil {
				t.Fatalf("accepted, but a map decoder refuses it: %v", err)
			}
			model, _ := m["model"].(string)
			n, _ := m["max_output_tokens"].(json.Number)
			if v, err := n.Int64(); model != c.Model || n != "" && (err != nil || int(v) > c.MaxTokens) {
				t.Fatalf("gateway read %q %d, exact keys (first wins %v) %q %s\n%s", c.Model, c.MaxTokens, first, model, n, b)
			}
		}
	})
}
