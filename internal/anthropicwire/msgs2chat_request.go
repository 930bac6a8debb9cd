package anthropicwire

import (
	"encoding/json"
	"strings"

	"github.com/llmgate/gateway/internal/chatwire"
)

// inMsgRequest is a Messages request as a caller sends it to the front door.
type inMsgRequest struct {
	System        json.RawMessage `json:"system"`
	Messages      []msgMessage    `json:"messages"`
	Temperature   *float64        `json:"temperature"`
	TopP          *float64        `json:"top_p"`
	StopSequences []string        `json:"stop_sequences"`
	Tools         []msgTool       `json:"tools"`
	ToolChoice    *msgToolChoice  `json:"tool_choice"`
	Metadata      *msgMetadata    `json:"metadata"`
}

type outChatRequest struct {
	Model             string          `json:"model"`
	Messages          []outChatMsg    `json:"messages"`
	MaxTokens         int             `json:"max_tokens,omitempty"`
	Stream            bool            `json:"stream,omitempty"`
	StreamOptions     *streamOptions  `json:"stream_options,omitempty"`
	Temperature       *float64        `json:"temperature,omitempty"`
	TopP              *float64        `json:"top_p,omitempty"`
	Stop              []string        `json:"stop,omitempty"`
	Tools             []outChatTool   `json:"tools,omitempty"`
	ToolChoice        json.RawMessage `json:"tool_choice,omitempty"`
	ParallelToolCalls *bool           `json:"parallel_tool_calls,omitempty"`
	User              string          `json:"user,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type outChatMsg struct {
	Role       string              `json:"role"`
	Content    json.RawMessage     `json:"content"`
	ToolCalls  []chatwire.ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string              `json:"tool_call_id,omitempty"`
}

type outChatTool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters,omitempty"`
	} `json:"function"`
}

// MessagesToChatRequest translates an Anthropic Messages request into an
// OpenAI Chat Completions request with f's model, stream (asking for usage)
// and max_tokens:
//
//   - system becomes the first message (its text blocks joined);
//   - a user turn's tool_result blocks become role "tool" messages, before
//     the turn's other content; text and images (base64 as data URLs) stay
//     in a user message;
//   - an assistant turn's tool_use blocks become tool_calls (input as an
//     arguments string); thinking blocks stay behind, since an
//     OpenAI-format model cannot take them;
//   - tools, tool_choice (any = required, tool = a function) and
//     disable_parallel_tool_use (parallel_tool_calls false) map; top_k and
//     thinking have no OpenAI counterpart and are dropped.
//
// A server tool or an unknown block is an error (IsTranslationError).
func MessagesToChatRequest(body []byte, f Facts) ([]byte, error) {
	var in inMsgRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, bad("invalid Messages request: " + jsonErrorKind(err))
	}
	out := outChatRequest{Model: f.Model, MaxTokens: f.MaxTokens, Stream: f.Stream,
		Temperature: in.Temperature, TopP: in.TopP, Stop: in.StopSequences}
	if f.Stream {
		out.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	if in.Metadata != nil {
		out.User = in.Metadata.UserID
	}
	if !isNull(in.System) {
		text, err := joinedText(in.System, "system")
		if err != nil {
			return nil, err
		}
		if text != "" {
			out.Messages = append(out.Messages, outChatMsg{Role: "system", Content: mustJSON(text)})
		}
	}
	for i := range in.Messages {
		msgs, err := chatMessagesOf(&in.Messages[i])
		if err != nil {
			return nil, err
		}
		out.Messages = append(out.Messages, msgs...)
	}
	if out.Messages == nil {
		out.Messages = []outChatMsg{}
	}
	for _, t := range in.Tools {
		if t.Type != "" && t.Type != "custom" {
			return nil, bad("server tool " + quoteShort(t.Type) + " is not supported by an OpenAI-format target")
		}
		var ct outChatTool
		ct.Type = "function"
		ct.Function.Name, ct.Function.Description, ct.Function.Parameters = t.Name, t.Description, t.InputSchema
		out.Tools = append(out.Tools, ct)
	}
	if tc := in.ToolChoice; tc != nil && len(out.Tools) > 0 {
		switch tc.Type {
		case "auto":
			out.ToolChoice = json.RawMessage(`"auto"`)
		case "any":
			out.ToolChoice = json.RawMessage(`"required"`)
		case "none":
			out.ToolChoice = json.RawMessage(`"none"`)
		case "tool":
			out.ToolChoice = mustJSON(map[string]any{"type": "function", "function": map[string]string{"name": tc.Name}})
		default:
			return nil, bad("unsupported tool_choice type " + quoteShort(tc.Type))
		}
		if tc.DisableParallelToolUse && tc.Type != "none" {
			f := false
			out.ParallelToolCalls = &f
		}
	}
	return json.Marshal(out)
}

// joinedText is a content that must be text (a string or text blocks),
// joined.
func joinedText(content json.RawMessage, what string) (string, error) {
	if isString(content) {
		var s string
		if err := json.Unmarshal(content, &s); err != nil {
			return "", bad(what + " is not a string")
		}
		return s, nil
	}
	var blocks []msgBlock
	if err := json.Unmarshal(content, &blocks); err != nil {
		return "", bad(what + " must be a string or a list of blocks")
	}
	var b strings.Builder
	for i, bl := range blocks {
		if bl.Type != "text" {
			return "", bad(what + " block " + quoteShort(bl.Type) + " is not text")
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(bl.Text)
	}
	return b.String(), nil
}

type outChatPart struct {
	Type     string        `json:"type"`
	Text     string        `json:"text,omitempty"`
	ImageURL *chatImageURL `json:"image_url,omitempty"`
}

// chatMessagesOf translates one Messages turn.
func chatMessagesOf(m *msgMessage) ([]outChatMsg, error) {
	if m.Role != "user" && m.Role != "assistant" {
		return nil, bad("unsupported message role " + quoteShort(m.Role))
	}
	if isString(m.Content) {
		return []outChatMsg{{Role: m.Role, Content: m.Content}}, nil
	}
	var blocks []msgBlock
	if err := json.Unmarshal(m.Content, &blocks); err != nil {
		return nil, bad("message content must be a string or a list of blocks")
	}
	var out []outChatMsg
	var parts []outChatPart
	var calls []chatwire.ToolCall
	for i := range blocks {
		b := &blocks[i]
		switch b.Type {
		case "text":
			parts = append(parts, outChatPart{Type: "text", Text: b.Text})
		case "image":
			if b.Source == nil {
				return nil, bad("image block without a source")
			}
			u := b.Source.URL
			if b.Source.Type == "base64" {
				u = dataURL(b.Source)
			}
			parts = append(parts, outChatPart{Type: "image_url", ImageURL: &chatImageURL{URL: u}})
		case "tool_result":
			text := ""
			if !isNull(b.Content) {
				t, err := toolResultText(b.Content)
				if err != nil {
					return nil, err
				}
				text = t
			}
			out = append(out, outChatMsg{Role: "tool", ToolCallID: b.ToolUseID, Content: mustJSON(text)})
		case "tool_use":
			calls = append(calls, chatwire.ToolCall{ID: b.ID, Type: "function",
				Function: chatwire.Function{Name: b.Name, Arguments: argumentsString(b.Input)}})
		case "thinking", "redacted_thinking":
			// An OpenAI-format model neither takes nor checks them.
		default:
			return nil, bad("unsupported content block " + quoteShort(b.Type))
		}
	}
	if len(parts) == 0 && len(calls) == 0 {
		return out, nil
	}
	msg := outChatMsg{Role: m.Role, ToolCalls: calls}
	switch {
	case len(parts) == 0:
		msg.Content = json.RawMessage(`null`)
	case m.Role == "assistant" || len(parts) == 1 && parts[0].Type == "text":
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(p.Text)
		}
		msg.Content = mustJSON(b.String())
	default:
		msg.Content = mustJSON(parts)
	}
	return append(out, msg), nil
}

// toolResultText is a tool_result's content as text: a string, or its text
// blocks joined (OpenAI tool messages hold text only).
func toolResultText(content json.RawMessage) (string, error) {
	if isString(content) {
		var s string
		err := json.Unmarshal(content, &s)
		return s, err
	}
	var blocks []msgBlock
	if err := json.Unmarshal(content, &blocks); err != nil {
		return "", bad("tool_result content must be a string or a list of blocks")
	}
	var b strings.Builder
	for _, bl := range blocks {
		if bl.Type == "text" {
			b.WriteString(bl.Text)
		}
	}
	return b.String(), nil
}
