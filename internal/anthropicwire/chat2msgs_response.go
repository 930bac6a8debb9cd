package anthropicwire

import (
	"encoding/json"

	"github.com/llmgate/gateway/internal/chatwire"
)

type inChatCompletion struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Message struct {
			Content          *string             `json:"content"`
			Refusal          *string             `json:"refusal"`
			ToolCalls        []chatwire.ToolCall `json:"tool_calls"`
			ReasoningContent string              `json:"reasoning_content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *chatwire.Usage `json:"usage"`
}

type outMsgResponse struct {
	ID           string            `json:"id"`
	Type         string            `json:"type"`
	Role         string            `json:"role"`
	Model        string            `json:"model"`
	Content      []json.RawMessage `json:"content"`
	StopReason   string            `json:"stop_reason"`
	StopSequence *string           `json:"stop_sequence"`
	Usage        msgUsage          `json:"usage"`
}

type thinkingBlock struct {
	Type      string `json:"type"`
	Thinking  string `json:"thinking"`
	Signature string `json:"signature"`
}

// ChatToMessagesResponse translates an OpenAI chat completion into an
// Anthropic Messages answer for model (the one the caller asked for):
// reasoning_content becomes a thinking block (with no signature: none was
// made), content (or a refusal) a text block, tool_calls tool_use blocks
// whose input is the arguments object (an argument string that is not a
// JSON object is kept under "arguments"); the finish reason maps
// (StopReason) and usage leaves cached tokens out of input_tokens.
func ChatToMessagesResponse(body []byte, model string) ([]byte, error) {
	var in inChatCompletion
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, bad("invalid chat completion: " + jsonErrorKind(err))
	}
	out := outMsgResponse{ID: msgID(in.ID), Type: "message", Role: "assistant", Model: model, Content: []json.RawMessage{}}
	if m := model; m == "" {
		out.Model = in.Model
	}
	finish := ""
	if len(in.Choices) > 0 {
		ch := &in.Choices[0]
		finish = ch.FinishReason
		msg := &ch.Message
		if msg.ReasoningContent != "" {
			out.Content = append(out.Content, mustJSON(thinkingBlock{Type: "thinking", Thinking: msg.ReasoningContent}))
		}
		text := msg.Content
		if (text == nil || *text == "") && msg.Refusal != nil {
			text = msg.Refusal
		}
		if text != nil && *text != "" {
			out.Content = append(out.Content, mustJSON(textBlock{Type: "text", Text: *text}))
		}
		for _, tc := range msg.ToolCalls {
			out.Content = append(out.Content, mustJSON(toolUseBlock{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name,
				Input: inputObject(tc.Function.Arguments)}))
		}
	}
	out.StopReason = StopReason(finish)
	if in.Usage != nil {
		out.Usage = msgUsageOf(*in.Usage)
	}
	return json.Marshal(out)
}

// inputObject is an arguments string as a tool_use input, which must be an
// object: what is not one is kept as a string under "arguments".
func inputObject(args string) json.RawMessage {
	if obj, err := argumentsObject(args); err == nil {
		return obj
	}
	return mustJSON(map[string]string{"arguments": args})
}

// msgID gives an OpenAI id Anthropic's prefix, which some clients check.
func msgID(id string) string {
	if id == "" {
		return "msg_gateway"
	}
	return "msg_" + id
}
