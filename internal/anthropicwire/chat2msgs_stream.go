package anthropicwire

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"

	"github.com/llmgate/gateway/internal/chatwire"
	"github.com/llmgate/gateway/internal/jsonstr"
)

// NewMessagesStream translates an OpenAI chat completion stream (one that
// asked for usage) into an Anthropic Messages event stream for model,
// event by event as it is read: message_start at the first chunk, a text,
// thinking (from reasoning_content) or tool_use block per run of that kind
// of delta (each OpenAI tool index its own block, arguments fragments as
// input_json_delta), content_block_stop as each ends, and at [DONE]
// message_delta (the mapped stop reason, and the usage with cached tokens
// out of input_tokens) and message_stop. An error chunk ends it with a
// *StreamError, an end before [DONE] with ErrStreamCut.
//
// The returned body's Close closes body.
func NewMessagesStream(body io.ReadCloser, model string) io.ReadCloser {
	return newEventReader(body, &msgsStream{model: model, open: -1})
}

type msgsStream struct {
	model    string
	started  bool
	blocks   int  // blocks started so far
	open     int  // the open block's index, -1 for none
	openKind byte // 't' text, 'r' thinking, 'u' tool_use
	tools    map[int]int
	stop     string
	usage    chatwire.Usage
}

type inChunk struct {
	ID      string `json:"id"`
	Choices []struct {
		Delta struct {
			Content          *string             `json:"content"`
			Refusal          *string             `json:"refusal"`
			ReasoningContent *string             `json:"reasoning_content"`
			Reasoning        *string             `json:"reasoning"`
			ToolCalls        []chatwire.ToolCall `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *chatwire.Usage `json:"usage"`
	Error json.RawMessage `json:"error"`
}

func appendEvent(out []byte, name string, data []byte) []byte {
	out = append(out, "event: "...)
	out = append(out, name...)
	out = append(out, "\ndata: "...)
	out = append(out, data...)
	return append(out, '\n', '\n')
}

func (s *msgsStream) start(out []byte, id string) []byte {
	if s.started {
		return out
	}
	s.started = true
	msg := outMsgResponse{ID: msgID(id), Type: "message", Role: "assistant", Model: s.model, Content: []json.RawMessage{}}
	data := mustJSON(struct {
		Type    string `json:"type"`
		Message any    `json:"message"`
	}{"message_start", json.RawMessage(bytes.Replace(mustJSON(msg), []byte(`"stop_reason":""`), []byte(`"stop_reason":null`), 1))})
	return appendEvent(out, "message_start", data)
}

// openBlock closes the open block unless it is of kind k, and starts one of
// kind k with the given start block.
func (s *msgsStream) openBlock(out []byte, k byte, block any) []byte {
	if s.open >= 0 && s.openKind == k && k != 'u' {
		return out
	}
	out = s.closeBlock(out)
	s.open, s.openKind = s.blocks, k
	s.blocks++
	return appendEvent(out, "content_block_start", mustJSON(struct {
		Type         string `json:"type"`
		Index        int    `json:"index"`
		ContentBlock any    `json:"content_block"`
	}{"content_block_start", s.open, block}))
}

func (s *msgsStream) closeBlock(out []byte) []byte {
	if s.open < 0 {
		return out
	}
	out = appendEvent(out, "content_block_stop", mustJSON(struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
	}{"content_block_stop", s.open}))
	s.open = -1
	return out
}

// textDeltaEvent appends a text_delta event, encoded by hand: nearly every
// event of a stream is one.
func textDeltaEvent(out []byte, index int, text string) []byte {
	out = append(out, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":"...)
	out = strconv.AppendInt(out, int64(index), 10)
	out = append(out, `,"delta":{"type":"text_delta","text":`...)
	out = jsonstr.Append(out, text)
	return append(out, "}}\n\n"...)
}

func (s *msgsStream) delta(out []byte, index int, delta any) []byte {
	return appendEvent(out, "content_block_delta", mustJSON(struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
		Delta any    `json:"delta"`
	}{"content_block_delta", index, delta}))
}

type thinkingDelta struct {
	Type     string `json:"type"`
	Thinking string `json:"thinking"`
}

type jsonDelta struct {
	Type        string `json:"type"`
	PartialJSON string `json:"partial_json"`
}

func (s *msgsStream) event(out []byte, _ string, data []byte) ([]byte, error) {
	if bytes.Equal(data, []byte("[DONE]")) {
		out = s.start(out, "")
		out = s.closeBlock(out)
		stop := s.stop
		if stop == "" {
			stop = "end_turn"
		}
		u := msgUsageOf(s.usage)
		out = appendEvent(out, "message_delta", mustJSON(struct {
			Type  string   `json:"type"`
			Delta any      `json:"delta"`
			Usage msgUsage `json:"usage"`
		}{"message_delta", struct {
			StopReason   string  `json:"stop_reason"`
			StopSequence *string `json:"stop_sequence"`
		}{stop, nil}, u}))
		return appendEvent(out, "message_stop", []byte(`{"type":"message_stop"}`)), io.EOF
	}
	var c inChunk
	if err := json.Unmarshal(data, &c); err != nil {
		return out, bad("invalid chunk in a chat stream")
	}
	if !isNull(c.Error) {
		var e struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(c.Error, &e)
		return out, &StreamError{Type: identifier(e.Type)}
	}
	out = s.start(out, c.ID)
	if c.Usage != nil {
		s.usage = *c.Usage
	}
	if len(c.Choices) == 0 {
		return out, nil
	}
	ch := &c.Choices[0]
	d := &ch.Delta
	reasoning := d.ReasoningContent
	if reasoning == nil {
		reasoning = d.Reasoning
	}
	if reasoning != nil && *reasoning != "" {
		out = s.openBlock(out, 'r', thinkingBlock{Type: "thinking"})
		out = s.delta(out, s.open, thinkingDelta{Type: "thinking_delta", Thinking: *reasoning})
	}
	for _, text := range []*string{d.Content, d.Refusal} {
		if text != nil && *text != "" {
			out = s.openBlock(out, 't', textBlock{Type: "text"})
			out = textDeltaEvent(out, s.open, *text)
		}
	}
	for _, tc := range d.ToolCalls {
		ti := 0
		if tc.Index != nil {
			ti = *tc.Index
		}
		bi, seen := s.tools[ti]
		if !seen {
			if s.tools == nil {
				s.tools = make(map[int]int, 2)
			}
			if len(s.tools) >= maxBlocks {
				return out, ErrTooLarge
			}
			out = s.openBlock(out, 'u', toolUseBlock{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: json.RawMessage(`{}`)})
			bi = s.open
			s.tools[ti] = bi
		}
		if tc.Function.Arguments != "" {
			out = s.delta(out, bi, jsonDelta{Type: "input_json_delta", PartialJSON: tc.Function.Arguments})
		}
	}
	if ch.FinishReason != nil && *ch.FinishReason != "" {
		s.stop = StopReason(*ch.FinishReason)
		out = s.closeBlock(out)
	}
	return out, nil
}
