package anthropicwire

import (
	"bytes"
	"encoding/json"
	"strings"
)

// ChatToMessages translates an OpenAI Chat Completions request into an
// Anthropic Messages request for f.Model, with f's stream and max_tokens:
//
//   - system and developer messages, wherever they stand, are lifted into
//     the top-level system, in order, each part keeping its cache_control;
//   - role "tool" messages become tool_result blocks of one user message
//     (parallel results together), and adjacent turns of one role merge;
//   - tool calls' arguments (a JSON string) become tool_use inputs (an
//     object); an assistant's thinking_blocks are replayed first, unchanged;
//   - images as data URLs become base64 sources, others URL sources;
//   - tool_choice maps (auto, none, required = any, a function = tool) and
//     parallel_tool_calls false is disable_parallel_tool_use;
//   - temperature is clamped to Anthropic's [0, 1] (OpenAI's goes to 2),
//     stop becomes stop_sequences, user metadata.user_id.
//
// Fields with no Anthropic counterpart (response_format, seed, logprobs,
// the penalties…) are not sent. n > 1, a tool call whose arguments are not
// a JSON object, an unknown role or content part are errors
// (IsTranslationError).
func ChatToMessages(body []byte, f Facts) ([]byte, error) {
	var in chatRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, bad("invalid chat request: " + jsonErrorKind(err))
	}
	if in.N != nil && *in.N > 1 {
		return nil, bad("n > 1 is not supported by Anthropic")
	}
	out := msgRequest{Model: f.Model, MaxTokens: f.MaxTokens, Stream: f.Stream, TopP: in.TopP, Thinking: in.Thinking}
	if t := in.Temperature; t != nil {
		v := min(max(*t, 0), 1)
		out.Temperature = &v
	}
	if in.User != "" {
		out.Metadata = &msgMetadata{UserID: in.User}
	}
	if !isNull(in.Stop) {
		if isString(in.Stop) {
			var s string
			_ = json.Unmarshal(in.Stop, &s)
			out.StopSequences = []string{s}
		} else if err := json.Unmarshal(in.Stop, &out.StopSequences); err != nil {
			return nil, bad("stop must be a string or a list of strings")
		}
	}
	var system []json.RawMessage
	var turns turnList
	for i := range in.Messages {
		m := &in.Messages[i]
		switch m.Role {
		case "system", "developer":
			blocks, err := textBlocks(m.Content, "system message")
			if err != nil {
				return nil, err
			}
			system = append(system, blocks...)
		case "user":
			blocks, err := userBlocks(m.Content)
			if err != nil {
				return nil, err
			}
			turns.add("user", blocks)
		case "assistant":
			blocks, err := assistantBlocks(m)
			if err != nil {
				return nil, err
			}
			turns.add("assistant", blocks)
		case "tool":
			b, err := toolResult(m)
			if err != nil {
				return nil, err
			}
			turns.add("user", []json.RawMessage{b})
		default:
			return nil, bad("unsupported message role " + quoteShort(m.Role))
		}
	}
	if len(system) > 0 {
		out.System = mustJSON(system)
	}
	out.Messages = turns.messages()
	if out.Messages == nil {
		out.Messages = []msgMessage{}
	}
	for _, t := range in.Tools {
		if t.Type != "" && t.Type != "function" {
			return nil, bad("unsupported tool type " + quoteShort(t.Type))
		}
		schema := t.Function.Parameters
		if isNull(schema) {
			schema = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		out.Tools = append(out.Tools, msgTool{Name: t.Function.Name, Description: t.Function.Description,
			InputSchema: schema, CacheControl: t.CacheControl})
	}
	tc, err := toolChoice(in.ToolChoice, in.ParallelToolCalls)
	if err != nil {
		return nil, err
	}
	if len(out.Tools) > 0 {
		out.ToolChoice = tc
	}
	return json.Marshal(out)
}

// turnList builds Anthropic's alternating turns: a turn of the same role as
// the last one joins it (Anthropic would merge them anyway; tool results
// must share one user turn).
type turnList struct {
	roles  []string
	blocks [][]json.RawMessage
}

func (t *turnList) add(role string, blocks []json.RawMessage) {
	if len(blocks) == 0 {
		return
	}
	if n := len(t.roles); n > 0 && t.roles[n-1] == role {
		t.blocks[n-1] = append(t.blocks[n-1], blocks...)
		return
	}
	t.roles = append(t.roles, role)
	t.blocks = append(t.blocks, blocks)
}

func (t *turnList) messages() []msgMessage {
	var out []msgMessage
	for i, r := range t.roles {
		out = append(out, msgMessage{Role: r, Content: mustJSON(t.blocks[i])})
	}
	return out
}

type textBlock struct {
	Type         string          `json:"type"`
	Text         string          `json:"text"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// textBlocks reads a content that must be text: a string, or a list of text
// parts. Empty text is dropped (Anthropic refuses empty text blocks).
func textBlocks(content json.RawMessage, what string) ([]json.RawMessage, error) {
	if isNull(content) {
		return nil, nil
	}
	if isString(content) {
		var s string
		if err := json.Unmarshal(content, &s); err != nil {
			return nil, bad(what + " content is not a string")
		}
		if s == "" {
			return nil, nil
		}
		return []json.RawMessage{mustJSON(textBlock{Type: "text", Text: s})}, nil
	}
	var parts []chatPart
	if err := json.Unmarshal(content, &parts); err != nil {
		return nil, bad(what + " content must be a string or a list of parts")
	}
	var out []json.RawMessage
	for _, p := range parts {
		if p.Type != "text" {
			return nil, bad(what + " content part " + quoteShort(p.Type) + " is not text")
		}
		if p.Text != "" {
			out = append(out, mustJSON(textBlock{Type: "text", Text: p.Text, CacheControl: p.CacheControl}))
		}
	}
	return out, nil
}

type imageBlock struct {
	Type         string          `json:"type"`
	Source       msgSource       `json:"source"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

func userBlocks(content json.RawMessage) ([]json.RawMessage, error) {
	if isNull(content) || isString(content) {
		return textBlocks(content, "user message")
	}
	var parts []chatPart
	if err := json.Unmarshal(content, &parts); err != nil {
		return nil, bad("user message content must be a string or a list of parts")
	}
	var out []json.RawMessage
	for _, p := range parts {
		switch p.Type {
		case "text":
			if p.Text != "" {
				out = append(out, mustJSON(textBlock{Type: "text", Text: p.Text, CacheControl: p.CacheControl}))
			}
		case "image_url":
			if p.ImageURL == nil || p.ImageURL.URL == "" {
				return nil, bad("image_url part without a url")
			}
			out = append(out, mustJSON(imageBlock{Type: "image", Source: imageSource(p.ImageURL.URL), CacheControl: p.CacheControl}))
		default:
			return nil, bad("unsupported content part " + quoteShort(p.Type))
		}
	}
	return out, nil
}

// imageSource is a base64 source for a data URL, else a URL source.
func imageSource(u string) msgSource {
	if rest, ok := strings.CutPrefix(u, "data:"); ok {
		if meta, data, ok := strings.Cut(rest, ","); ok {
			if mt, ok := strings.CutSuffix(meta, ";base64"); ok {
				return msgSource{Type: "base64", MediaType: mt, Data: data}
			}
		}
	}
	return msgSource{Type: "url", URL: u}
}

// dataURL is the data URL of a base64 image source.
func dataURL(s *msgSource) string { return "data:" + s.MediaType + ";base64," + s.Data }

type toolUseBlock struct {
	Type  string          `json:"type"`
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

func assistantBlocks(m *chatMessage) ([]json.RawMessage, error) {
	var out []json.RawMessage
	for _, tb := range m.ThinkingBlocks {
		var h msgBlock
		if json.Unmarshal(tb, &h) != nil || h.Type != "thinking" && h.Type != "redacted_thinking" {
			return nil, bad("thinking_blocks must hold thinking or redacted_thinking blocks")
		}
		out = append(out, tb) // byte for byte: a changed block is refused upstream
	}
	text, err := textBlocks(m.Content, "assistant message")
	if err != nil {
		return nil, err
	}
	out = append(out, text...)
	for _, tc := range m.ToolCalls {
		input, err := argumentsObject(tc.Function.Arguments)
		if err != nil {
			return nil, err
		}
		out = append(out, mustJSON(toolUseBlock{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: input}))
	}
	return out, nil
}

// argumentsObject is a tool call's arguments string as the object Anthropic
// takes; an empty string is an empty object.
func argumentsObject(args string) (json.RawMessage, error) {
	a := bytes.TrimSpace([]byte(args))
	if len(a) == 0 {
		return json.RawMessage(`{}`), nil
	}
	if a[0] != '{' || !json.Valid(a) {
		return nil, bad("tool call arguments must be a JSON object")
	}
	return a, nil
}

type toolResultBlock struct {
	Type      string          `json:"type"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content,omitempty"`
}

func toolResult(m *chatMessage) (json.RawMessage, error) {
	if m.ToolCallID == "" {
		return nil, bad("tool message without tool_call_id")
	}
	b := toolResultBlock{Type: "tool_result", ToolUseID: m.ToolCallID}
	switch {
	case isNull(m.Content):
	case isString(m.Content):
		b.Content = m.Content
	default:
		blocks, err := textBlocks(m.Content, "tool message")
		if err != nil {
			return nil, err
		}
		if len(blocks) > 0 {
			b.Content = mustJSON(blocks)
		}
	}
	return mustJSON(b), nil
}

// toolChoice maps OpenAI's tool_choice and parallel_tool_calls.
func toolChoice(raw json.RawMessage, parallel *bool) (*msgToolChoice, error) {
	tc := &msgToolChoice{Type: "auto"}
	switch {
	case isNull(raw):
		if parallel == nil || *parallel {
			return nil, nil
		}
	case isString(raw):
		var s string
		_ = json.Unmarshal(raw, &s)
		switch s {
		case "auto":
		case "none":
			return &msgToolChoice{Type: "none"}, nil
		case "required":
			tc.Type = "any"
		default:
			return nil, bad("unsupported tool_choice " + quoteShort(s))
		}
	default:
		var o struct {
			Type     string `json:"type"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		if json.Unmarshal(raw, &o) != nil {
			return nil, bad("tool_choice must be a string or an object")
		}
		switch {
		case o.Type == "function" && o.Function.Name != "":
			tc.Type, tc.Name = "tool", o.Function.Name
		case o.Type == "allowed_tools":
		default:
			return nil, bad("unsupported tool_choice type " + quoteShort(o.Type))
		}
	}
	tc.DisableParallelToolUse = parallel != nil && !*parallel
	return tc, nil
}

// quoteShort quotes s for an error message, cut to 32 bytes.
func quoteShort(s string) string {
	if len(s) > 32 {
		s = s[:32] + "…"
	}
	return "\"" + strings.ToValidUTF8(s, "?") + "\""
}

// jsonErrorKind names what was wrong with JSON without quoting it.
func jsonErrorKind(err error) string {
	if _, ok := err.(*json.UnmarshalTypeError); ok {
		return "a field has the wrong type"
	}
	return "malformed JSON"
}
