package anthropicwire

import (
	"encoding/json"
	"io"
	"strconv"

	"github.com/llmgate/gateway/internal/chatwire"
	"github.com/llmgate/gateway/internal/jsonstr"
)

// NewChatStream translates an Anthropic Messages event stream into an OpenAI
// chat completion stream (chunks made at created, Unix seconds), event by
// event as it is read, ended by a usage-only chunk and [DONE] at
// message_stop:
//
//   - message_start opens with the assistant role; ping is dropped;
//   - text deltas are content deltas, thinking deltas reasoning_content;
//   - a tool_use block's start is a tool call delta (id, name, empty
//     arguments), its input_json_delta fragments arguments deltas, under
//     the tool's OpenAI index (Anthropic's counts every block, OpenAI's
//     only tool calls);
//   - a thinking block ends with a delta holding it whole, signature
//     included, in thinking_blocks, as a redacted_thinking block does at its
//     start, so a client can replay them unchanged;
//   - message_delta's stop_reason is the finish_reason; usage merges
//     message_start's and message_delta's (final counts may come only in
//     the latter);
//   - an error event ends the stream with a *StreamError, an end before
//     message_stop with ErrStreamCut: never with [DONE].
//
// The returned body's Close closes body.
func NewChatStream(body io.ReadCloser, created int64) io.ReadCloser {
	return newEventReader(body, &chatStream{created: created})
}

type chatStream struct {
	created   int64
	id, model string
	head      []byte // every chunk's start, once id and model are known
	usage     msgUsage
	toolIndex map[int]int // Anthropic block index -> OpenAI tool index
	// the open thinking block, replayed whole at its stop
	think      bool
	thinkIndex int
	thinkText  []byte
	thinkSig   []byte
}

type msgEvent struct {
	Type         string          `json:"type"`
	Index        int             `json:"index"`
	Message      *msgResponse    `json:"message"`
	ContentBlock json.RawMessage `json:"content_block"`
	Delta        *msgDelta       `json:"delta"`
	Usage        *msgUsage       `json:"usage"`
	Error        *struct {
		Type string `json:"type"`
	} `json:"error"`
}

type msgDelta struct {
	Type        string  `json:"type"`
	Text        string  `json:"text"`
	PartialJSON string  `json:"partial_json"`
	Thinking    string  `json:"thinking"`
	Signature   string  `json:"signature"`
	StopReason  *string `json:"stop_reason"`
}

// chunk appends one chat chunk holding d. Its head (id, object, created,
// model) is encoded once per stream, and a delta of only content or
// reasoning by hand: those are nearly every event.
func (s *chatStream) chunk(out []byte, d chatwire.Delta, finish *string) []byte {
	if s.head == nil {
		s.head = append(s.head, `{"id":`...)
		s.head = jsonstr.Append(s.head, s.id)
		s.head = append(s.head, `,"object":"chat.completion.chunk","created":`...)
		s.head = strconv.AppendInt(s.head, s.created, 10)
		s.head = append(s.head, `,"model":`...)
		s.head = jsonstr.Append(s.head, s.model)
		s.head = append(s.head, `,"choices":[{"index":0,"delta":`...)
	}
	out = append(out, "data: "...)
	out = append(out, s.head...)
	switch {
	case d.Content != nil && d.Role == "" && d.ToolCalls == nil && d.ReasoningContent == nil && d.ThinkingBlocks == nil:
		out = jsonstr.Append(append(out, `{"content":`...), *d.Content)
		out = append(out, '}')
	case d.ReasoningContent != nil && d.Role == "" && d.Content == nil && d.ToolCalls == nil && d.ThinkingBlocks == nil:
		out = jsonstr.Append(append(out, `{"reasoning_content":`...), *d.ReasoningContent)
		out = append(out, '}')
	default:
		out = append(out, mustJSON(d)...)
	}
	if finish != nil {
		out = jsonstr.Append(append(out, `,"finish_reason":`...), *finish)
	} else {
		out = append(out, `,"finish_reason":null`...)
	}
	return append(out, "}]}\n\n"...)
}

func appendData(out, data []byte) []byte {
	out = append(out, "data: "...)
	out = append(out, data...)
	return append(out, '\n', '\n')
}

func (s *chatStream) event(out []byte, _ string, data []byte) ([]byte, error) {
	var ev msgEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return out, bad("invalid event in a Messages stream")
	}
	switch ev.Type {
	case "message_start":
		if ev.Message != nil {
			s.id, s.model = ev.Message.ID, ev.Message.Model
			s.usage = maxUsage(s.usage, ev.Message.Usage)
		}
		empty := ""
		return s.chunk(out, chatwire.Delta{Role: "assistant", Content: &empty}, nil), nil
	case "content_block_start":
		var b msgBlock
		if err := json.Unmarshal(ev.ContentBlock, &b); err != nil {
			return out, bad("invalid content_block_start")
		}
		switch b.Type {
		case "text":
			if b.Text != "" {
				return s.chunk(out, chatwire.Delta{Content: &b.Text}, nil), nil
			}
		case "tool_use":
			if s.toolIndex == nil {
				s.toolIndex = make(map[int]int, 2)
			}
			if len(s.toolIndex) >= maxBlocks {
				return out, ErrTooLarge
			}
			ti := len(s.toolIndex)
			s.toolIndex[ev.Index] = ti
			args := ""
			if in := argumentsString(b.Input); in != "{}" {
				args = in // a block whose input came whole, not in fragments
			}
			return s.chunk(out, chatwire.Delta{ToolCalls: []chatwire.ToolCall{{Index: &ti, ID: b.ID, Type: "function",
				Function: chatwire.Function{Name: b.Name, Arguments: args}}}}, nil), nil
		case "thinking":
			s.think, s.thinkIndex = true, ev.Index
			s.thinkText = append(s.thinkText[:0], b.Thinking...)
			s.thinkSig = append(s.thinkSig[:0], b.Signature...)
			if b.Thinking != "" {
				return s.chunk(out, chatwire.Delta{ReasoningContent: &b.Thinking}, nil), nil
			}
		case "redacted_thinking":
			return s.chunk(out, chatwire.Delta{ThinkingBlocks: []json.RawMessage{ev.ContentBlock}}, nil), nil
		}
		return out, nil
	case "content_block_delta":
		if ev.Delta == nil {
			return out, nil
		}
		d := ev.Delta
		switch d.Type {
		case "text_delta":
			if d.Text != "" {
				return s.chunk(out, chatwire.Delta{Content: &d.Text}, nil), nil
			}
		case "input_json_delta":
			ti, ok := s.toolIndex[ev.Index]
			if ok && d.PartialJSON != "" {
				return s.chunk(out, chatwire.Delta{ToolCalls: []chatwire.ToolCall{{Index: &ti,
					Function: chatwire.Function{Arguments: d.PartialJSON}}}}, nil), nil
			}
		case "thinking_delta":
			if s.think && ev.Index == s.thinkIndex {
				if len(s.thinkText)+len(d.Thinking) > MaxHeld {
					return out, ErrTooLarge
				}
				s.thinkText = append(s.thinkText, d.Thinking...)
			}
			if d.Thinking != "" {
				return s.chunk(out, chatwire.Delta{ReasoningContent: &d.Thinking}, nil), nil
			}
		case "signature_delta":
			if s.think && ev.Index == s.thinkIndex {
				if len(s.thinkSig)+len(d.Signature) > MaxHeld {
					return out, ErrTooLarge
				}
				s.thinkSig = append(s.thinkSig, d.Signature...)
			}
		}
		return out, nil
	case "content_block_stop":
		if s.think && ev.Index == s.thinkIndex {
			s.think = false
			block := mustJSON(struct {
				Type      string `json:"type"`
				Thinking  string `json:"thinking"`
				Signature string `json:"signature"`
			}{"thinking", string(s.thinkText), string(s.thinkSig)})
			return s.chunk(out, chatwire.Delta{ThinkingBlocks: []json.RawMessage{block}}, nil), nil
		}
		return out, nil
	case "message_delta":
		if ev.Usage != nil {
			s.usage = maxUsage(s.usage, *ev.Usage)
		}
		if ev.Delta != nil && ev.Delta.StopReason != nil {
			f := FinishReason(*ev.Delta.StopReason)
			return s.chunk(out, chatwire.Delta{}, &f), nil
		}
		return out, nil
	case "message_stop":
		u := chatUsageOf(s.usage)
		c := chatwire.Chunk{ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
			Choices: []chatwire.ChunkChoice{}, Usage: &u}
		out = appendData(out, mustJSON(c))
		return appendData(out, []byte("[DONE]")), io.EOF
	case "error":
		typ := "error"
		if ev.Error != nil {
			typ = identifier(ev.Error.Type)
		}
		return out, &StreamError{Type: typ}
	}
	return out, nil // ping, and events added later
}

// maxBlocks bounds the tool calls one stream may open.
const maxBlocks = 1024
