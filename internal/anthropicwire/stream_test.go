package anthropicwire

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/internal/chatwire"
	"github.com/llmgate/gateway/internal/sse"
)

// events reads a translated stream to its end: the data of each event (and
// its name), and the read error that ended it (nil at a clean EOF).
func events(t *testing.T, r io.Reader) (names []string, data []string, err error) {
	t.Helper()
	b, err := io.ReadAll(r)
	in := sse.NewReader(bytes.NewReader(b), 0)
	for i := 0; i < 10000; i++ {
		ev, e := in.Next()
		if e != nil {
			break
		}
		names = append(names, ev.Name)
		data = append(data, string(ev.Data))
	}
	return names, data, err
}

func recorded(t *testing.T, name string) io.ReadCloser {
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return io.NopCloser(bytes.NewReader(b))
}

// TestChatStreamTraps: a recorded Anthropic stream with a thinking block, a
// text block and two parallel tool calls, as OpenAI chunks.
func TestChatStreamTraps(t *testing.T) {
	_, data, err := events(t, NewChatStream(recorded(t, "stream_tools.sse"), 42))
	require.NoError(t, err)
	require.Equal(t, "[DONE]", data[len(data)-1])
	var (
		reasoning, content strings.Builder
		thinking           []json.RawMessage
		args               = map[int]*strings.Builder{}
		ids, names         = map[int]string{}, map[int]string{}
		finish             []string
		usage              *chatwire.Usage
	)
	for _, d := range data[:len(data)-1] {
		var c struct {
			Created int64 `json:"created"`
			Choices []struct {
				Delta        chatMessage `json:"delta"`
				FinishReason *string     `json:"finish_reason"`
			} `json:"choices"`
			Usage *chatwire.Usage `json:"usage"`
		}
		require.NoError(t, json.Unmarshal([]byte(d), &c), d)
		assert.EqualValues(t, 42, c.Created)
		if c.Usage != nil {
			usage = c.Usage
			assert.Empty(t, c.Choices, "usage comes in a usage-only chunk")
		}
		for _, ch := range c.Choices {
			if ch.FinishReason != nil {
				finish = append(finish, *ch.FinishReason)
			}
			if r := ch.Delta.ReasoningContent; r != nil {
				reasoning.WriteString(*r)
			}
			if len(ch.Delta.Content) > 0 {
				var s string
				require.NoError(t, json.Unmarshal(ch.Delta.Content, &s))
				content.WriteString(s)
			}
			thinking = append(thinking, ch.Delta.ThinkingBlocks...)
			for _, tc := range ch.Delta.ToolCalls {
				require.NotNil(t, tc.Index)
				if args[*tc.Index] == nil {
					args[*tc.Index] = &strings.Builder{}
				}
				args[*tc.Index].WriteString(tc.Function.Arguments)
				if tc.ID != "" {
					ids[*tc.Index], names[*tc.Index] = tc.ID, tc.Function.Name
				}
			}
		}
	}
	assert.Equal(t, "Two cities, two calls.", reasoning.String())
	assert.Equal(t, "Checking both.", content.String())
	require.Len(t, thinking, 1)
	assert.JSONEq(t, `{"type":"thinking","thinking":"Two cities, two calls.","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}`, string(thinking[0]))
	assert.Equal(t, map[int]string{0: "toolu_A", 1: "toolu_B"}, ids, "OpenAI's tool index counts tools only (Anthropic's blocks 2 and 3)")
	assert.Equal(t, map[int]string{0: "get_weather", 1: "get_weather"}, names)
	assert.Equal(t, `{"city": "Paris"}`, args[0].String())
	assert.Equal(t, `{"city": "Rome"}`, args[1].String())
	assert.Equal(t, []string{"tool_calls"}, finish)
	require.NotNil(t, usage)
	assert.Equal(t, chatwire.Usage{PromptTokens: 242, CompletionTokens: 87, TotalTokens: 329,
		PromptDetails: &chatwire.PromptDetails{CachedTokens: 200, CacheWriteTokens: 30, CacheWrite1hTokens: 10}}, *usage,
		"input from message_start, output only in message_delta")
}

// TestChatStreamErrorEventIsAReadError: an error event after a 200 ends the
// stream with an error, never [DONE], and the upstream's message (which
// names the organisation) is not repeated.
func TestChatStreamErrorEventIsAReadError(t *testing.T) {
	_, data, err := events(t, NewChatStream(recorded(t, "stream_error.sse"), 1))
	var se *StreamError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "overloaded_error", se.Type)
	assert.NotContains(t, err.Error(), "5f2c8e1a")
	assert.NotContains(t, data, "[DONE]")
	assert.Contains(t, strings.Join(data, ""), `"content":"Partial"`, "what came before is delivered")
}

// TestStreamCutIsAnError: an upstream that ends before its end event is a
// cut answer in the other format too, in both directions.
func TestStreamCutIsAnError(t *testing.T) {
	b, err := os.ReadFile("testdata/stream_tools.sse")
	require.NoError(t, err)
	cut := b[:bytes.Index(b, []byte("event: message_delta"))]
	_, data, err := events(t, NewChatStream(io.NopCloser(bytes.NewReader(cut)), 1))
	assert.ErrorIs(t, err, ErrStreamCut)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.NotContains(t, data, "[DONE]")

	chat := "data: " + `{"id":"c","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}` + "\n\n"
	names, _, err := events(t, NewMessagesStream(io.NopCloser(strings.NewReader(chat)), "m"))
	assert.ErrorIs(t, err, ErrStreamCut)
	assert.NotContains(t, names, "message_stop")

	errChunk := chat + "data: " + `{"error":{"message":"boom","type":"server_error"}}` + "\n\n"
	names, _, err = events(t, NewMessagesStream(io.NopCloser(strings.NewReader(errChunk)), "m"))
	var se *StreamError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "server_error", se.Type)
	assert.NotContains(t, names, "message_stop")
}

// TestMessagesStreamIsWhatTheAnthropicSDKAccumulates: an OpenAI stream with
// reasoning, text and two parallel tool calls, translated, is accepted
// event by event by anthropic-sdk-go's own accumulator.
func TestMessagesStreamIsWhatTheAnthropicSDKAccumulates(t *testing.T) {
	chunks := []string{
		`{"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`,
		`{"id":"c1","choices":[{"index":0,"delta":{"reasoning_content":"Hmm, "},"finish_reason":null}]}`,
		`{"id":"c1","choices":[{"index":0,"delta":{"reasoning_content":"two."},"finish_reason":null}]}`,
		`{"id":"c1","choices":[{"index":0,"delta":{"content":"Checking"},"finish_reason":null}]}`,
		`{"id":"c1","choices":[{"index":0,"delta":{"content":" both."},"finish_reason":null}]}`,
		`{"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_A","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}`,
		`{"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"finish_reason":null}]}`,
		`{"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"finish_reason":null}]}`,
		`{"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_B","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},"finish_reason":null}]}`,
		`{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
		`{"id":"c1","choices":[],"usage":{"prompt_tokens":300,"completion_tokens":20,"total_tokens":320,"prompt_tokens_details":{"cached_tokens":256}}}`,
		`[DONE]`,
	}
	var in strings.Builder
	for _, c := range chunks {
		in.WriteString("data: " + c + "\n\n")
	}
	names, data, err := events(t, NewMessagesStream(io.NopCloser(strings.NewReader(in.String())), "claude-via-gpt"))
	require.NoError(t, err)
	var acc anthropic.Message
	for i, d := range data {
		var ev anthropic.MessageStreamEventUnion
		require.NoError(t, json.Unmarshal([]byte(d), &ev), d)
		assert.Equal(t, names[i], ev.Type, "the event name is its type")
		require.NoError(t, acc.Accumulate(ev), d)
	}
	assert.Equal(t, "message_stop", names[len(names)-1])
	require.Len(t, acc.Content, 4)
	assert.Equal(t, "Hmm, two.", acc.Content[0].Thinking)
	assert.Equal(t, "Checking both.", acc.Content[1].Text)
	assert.Equal(t, "call_A", acc.Content[2].ID)
	assert.JSONEq(t, `{"city":"Paris"}`, string(acc.Content[2].Input))
	assert.Equal(t, "call_B", acc.Content[3].ID)
	assert.JSONEq(t, `{"city":"Rome"}`, string(acc.Content[3].Input))
	assert.Equal(t, anthropic.StopReasonToolUse, acc.StopReason)
	assert.EqualValues(t, 44, acc.Usage.InputTokens, "input_tokens leaves the cached tokens out")
	assert.EqualValues(t, 256, acc.Usage.CacheReadInputTokens)
	assert.EqualValues(t, 20, acc.Usage.OutputTokens)
	assert.Equal(t, "claude-via-gpt", acc.Model)
}

func TestReadErrorsOfTheUpstreamPassAsTheyAre(t *testing.T) {
	boom := errors.New("connection reset")
	r := NewChatStream(io.NopCloser(io.MultiReader(strings.NewReader("event: ping\ndata: {\"type\":\"ping\"}\n\n"), errReader{boom})), 1)
	_, err := io.ReadAll(r)
	assert.ErrorIs(t, err, boom, "a cancellation stays a cancellation for the gateway")
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
