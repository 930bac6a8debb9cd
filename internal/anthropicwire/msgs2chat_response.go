package anthropicwire

import (
	"bytes"
	"encoding/json"

	"github.com/llmgate/gateway/internal/chatwire"
)

type chatCompletion struct {
	ID      string         `json:"id"`
	Object  string         `json:"object"`
	Created int64          `json:"created"`
	Model   string         `json:"model"`
	Choices []chatChoice   `json:"choices"`
	Usage   chatwire.Usage `json:"usage"`
}

type chatChoice struct {
	Index        int            `json:"index"`
	Message      chatOutMessage `json:"message"`
	FinishReason string         `json:"finish_reason"`
}

type chatOutMessage struct {
	Role             string              `json:"role"`
	Content          *string             `json:"content"`
	ToolCalls        []chatwire.ToolCall `json:"tool_calls,omitempty"`
	ReasoningContent string              `json:"reasoning_content,omitempty"`
	ThinkingBlocks   []json.RawMessage   `json:"thinking_blocks,omitempty"`
}

// MessagesToChat translates an Anthropic Messages answer into an OpenAI chat
// completion made at created (Unix seconds): text blocks join into content,
// tool_use blocks become tool_calls (input as an arguments string), thinking
// text is reasoning_content and every thinking and redacted_thinking block
// is kept byte for byte in thinking_blocks, for the client to send back;
// the stop reason maps (FinishReason) and usage counts cached tokens into
// prompt_tokens, with the cache reads and writes in prompt_tokens_details.
// Other blocks (server tools' results) are left out.
func MessagesToChat(body []byte, created int64) ([]byte, error) {
	var m msgResponse
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, bad("invalid Messages answer: " + jsonErrorKind(err))
	}
	msg := chatOutMessage{Role: "assistant"}
	var text bytes.Buffer
	for _, raw := range m.Content {
		var b msgBlock
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, bad("invalid content block in a Messages answer")
		}
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "tool_use":
			msg.ToolCalls = append(msg.ToolCalls, chatwire.ToolCall{ID: b.ID, Type: "function",
				Function: chatwire.Function{Name: b.Name, Arguments: argumentsString(b.Input)}})
		case "thinking":
			msg.ReasoningContent += b.Thinking
			msg.ThinkingBlocks = append(msg.ThinkingBlocks, raw)
		case "redacted_thinking":
			msg.ThinkingBlocks = append(msg.ThinkingBlocks, raw)
		}
	}
	if text.Len() > 0 || len(msg.ToolCalls) == 0 {
		s := text.String()
		msg.Content = &s
	}
	stop := ""
	if m.StopReason != nil {
		stop = *m.StopReason
	}
	return json.Marshal(chatCompletion{ID: m.ID, Object: "chat.completion", Created: created, Model: m.Model,
		Choices: []chatChoice{{Message: msg, FinishReason: FinishReason(stop)}}, Usage: chatUsageOf(m.Usage)})
}

// argumentsString is a tool_use input as OpenAI's arguments string.
func argumentsString(input json.RawMessage) string {
	if isNull(input) {
		return "{}"
	}
	var b bytes.Buffer
	if json.Compact(&b, input) != nil {
		return "{}"
	}
	return b.String()
}
